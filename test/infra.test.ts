// Checks the deployment files by what they mean, not by how they look: renders the kustomize
// overlays and inspects the objects, evaluates the KEDA query and the alert rules with promtool,
// and cross-checks metric and secret names against docs/operations.md. The tools come from
// Debian and npm; infra/ci/check-manifests.sh installs them.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { freePort } from "@esign/runtime";
import { loadApiConfig } from "esign-api";
import { loadNotifierConfigFromEnv } from "esign-notifier";
import { loadWorkerConfig } from "esign-worker";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(repo, path), "utf8");

const SERVICES = ["api", "worker", "notifier", "esign-sim", "all-in-one"];
const BACKLOG_STATES = ["waiting", "prioritized", "delayed", "active"];

async function which(command: string): Promise<string | undefined> {
  try {
    const { stdout } = await run("sh", ["-c", `command -v ${command}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `kubectl kustomize`, else a standalone kustomize (PATH or where check-manifests.sh puts it). */
async function findKustomize(): Promise<((dir: string) => Promise<string>) | undefined> {
  if (await which("kubectl")) {
    return async (dir) => (await run("kubectl", ["kustomize", dir], { maxBuffer: 1 << 24 })).stdout;
  }
  const toolsDir = process.env.ESIGN_TOOLS_DIR ?? join(homedir(), ".cache", "esign-tools");
  const standalone = (await which("kustomize")) ?? (await which(join(toolsDir, "bin", "kustomize")));
  if (!standalone) return undefined;
  return async (dir) => (await run(standalone, ["build", dir], { maxBuffer: 1 << 24 })).stdout;
}

const kustomize = await findKustomize();
const promtool = await which("promtool");
const dockerCompose = await which("docker-compose");

/** CI must run every check (.ci/run installs the tools); a developer without them gets a warning. */
function requireTool(name: string, present: unknown): boolean {
  if (present) return true;
  const missing = `infra.test: ${name} is missing (infra/ci/check-manifests.sh installs it)`;
  if (process.env.CI) throw new Error(missing);
  console.warn(`${missing}; SKIPPING the checks that need it`);
  return false;
}

// Kubernetes objects, loosely typed: the checks below read the fields they need.
interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field
  spec: any;
}

async function render(overlay: string): Promise<K8sObject[]> {
  if (!kustomize) throw new Error("no kustomize");
  const text = await kustomize(join(repo, "infra/k8s/overlays", overlay));
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject)
    .filter(Boolean);
}

function named(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

function matches(selector: Record<string, string>, labels: Record<string, string> = {}): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** Deployments that run the esign-agent image (not the dev-only Redis/MinIO). */
function esignDeployments(objects: K8sObject[]): K8sObject[] {
  return objects.filter(
    (object) =>
      object.kind === "Deployment" &&
      object.spec.template.spec.containers.some((container: { image: string }) =>
        /esign-agent/.test(container.image),
      ),
  );
}

/**
 * Secrets and ConfigMaps the pods use (env, envFrom, volumes), as "Secret NAME" / "ConfigMap
 * NAME", walking the whole object tree.
 */
function configReferenced(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) configReferenced(item, found);
  } else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if ((key === "secretKeyRef" || key === "secretRef") && typeof value?.name === "string") {
        found.add(`Secret ${value.name}`);
      }
      if (key === "secret" && typeof value?.secretName === "string") found.add(`Secret ${value.secretName}`);
      if (["configMapKeyRef", "configMapRef", "configMap"].includes(key) && typeof value?.name === "string") {
        found.add(`ConfigMap ${value.name}`);
      }
      configReferenced(value, found);
    }
  }
  return found;
}

/** The metric names in docs/operations.md's metric table (rows starting with `esign_...`). */
function documentedMetrics(): Set<string> {
  return new Set(
    [...read("docs/operations.md").matchAll(/^\| `(esign_[a-z_]+)`/gm)].map((match) => match[1] as string),
  );
}

/** The JSON of the code block labelled FILE in docs/operations.md ("```json FILE"). */
function documentedExample(file: string): string {
  const start = `\`\`\`json ${file}\n`;
  const docs = read("docs/operations.md");
  const from = docs.indexOf(start);
  if (from < 0) throw new Error(`docs/operations.md has no \`\`\`json ${file} block`);
  return docs.slice(from + start.length, docs.indexOf("```", from + start.length));
}

// Stores as a production site would configure them; the examples below refer to "default".
const SITE_STORES = JSON.stringify({
  default: { type: "s3", region: "eu-central-1", bucket: "esign-documents" },
});

/** esign_* names used in a PromQL text, with histogram suffixes folded into the base name. */
function metricsUsed(promql: string): string[] {
  return [...promql.matchAll(/\besign_[a-z_]+/g)].map((match) =>
    match[0].replace(/_(bucket|sum|count)$/, ""),
  );
}

async function promtoolTest(testFile: object, files: Record<string, string> = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "esign-promtool-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, "test.yml"), JSON.stringify(testFile));
    await run(promtool as string, ["test", "rules", join(dir, "test.yml")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.runIf(requireTool("kubectl or kustomize", kustomize))("kustomize overlays", () => {
  const rendered: Record<string, K8sObject[]> = {};
  let production: K8sObject[] = [];
  let dev: K8sObject[] = [];
  beforeAll(async () => {
    for (const overlay of ["production", "dev"]) rendered[overlay] = await render(overlay);
    production = rendered.production ?? [];
    dev = rendered.dev ?? [];
  });

  it("production runs api, worker and notifier; only dev runs the simulator", () => {
    const names = (objects: K8sObject[]) => esignDeployments(objects).map((object) => object.metadata.name);
    expect(names(production).sort()).toEqual(["esign-api", "esign-notifier", "esign-worker"]);
    expect(names(dev).sort()).toEqual(["esign-api", "esign-notifier", "esign-sim", "esign-worker"]);
  });

  it.each(["production", "dev"])(
    "%s: every esign pod is probed, sized, non-root and runs the service its name says",
    (overlay) => {
      const objects = rendered[overlay] ?? [];
      for (const deployment of esignDeployments(objects)) {
        const pod = deployment.spec.template.spec;
        expect(pod.securityContext.runAsNonRoot, deployment.metadata.name).toBe(true);
        expect(pod.automountServiceAccountToken, deployment.metadata.name).toBe(false);
        for (const container of pod.containers) {
          const where = `${deployment.metadata.name}/${container.name}`;
          const service = container.env.find((env: { name: string }) => env.name === "ESIGN_SERVICE")?.value;
          expect(SERVICES, where).toContain(service);
          expect(deployment.metadata.name, where).toBe(
            service === "esign-sim" ? "esign-sim" : `esign-${service}`,
          );
          const portNames = (container.ports ?? []).map((port: { name: string }) => port.name);
          for (const probe of [container.livenessProbe, container.readinessProbe]) {
            expect(probe?.httpGet?.path, where).toMatch(/^\/(healthz|readyz|metrics)$/);
            expect(portNames, where).toContain(probe.httpGet.port);
          }
          expect(container.resources.requests.cpu, where).toBeDefined();
          expect(container.resources.requests.memory, where).toBeDefined();
          expect(container.resources.limits.memory, where).toBeDefined();
          expect(container.securityContext.allowPrivilegeEscalation, where).toBe(false);
          expect(container.securityContext.capabilities.drop, where).toEqual(["ALL"]);
        }
      }
    },
  );

  it.each(["production", "dev"])("%s: the ESIGN_STORES in esign-config loads in the worker", (overlay) => {
    const configMap = (rendered[overlay] ?? []).find(
      (object) => object.kind === "ConfigMap" && object.metadata.name.startsWith("esign-config"),
    ) as unknown as { data: Record<string, string> };
    const config = loadWorkerConfig({ ESIGN_STORES: configMap.data.ESIGN_STORES, ESIGN_SIGNERS: "{}" });
    expect(Object.keys(config.stores)).toEqual(["default"]);
  });

  it("the API is live on /healthz and ready on /readyz", () => {
    const api = named(production, "Deployment", "esign-api").spec.template.spec.containers[0];
    expect(api.livenessProbe.httpGet.path).toBe("/healthz");
    expect(api.readinessProbe.httpGet.path).toBe("/readyz");
  });

  it("workers get longer than the longest job (300 s) to drain on SIGTERM", () => {
    for (const objects of [production, dev]) {
      const worker = named(objects, "Deployment", "esign-worker").spec.template.spec;
      expect(worker.terminationGracePeriodSeconds).toBeGreaterThan(300);
    }
    expect(read("docs/operations.md")).toMatch(/terminationGracePeriodSeconds/);
  });

  it.each(["production", "dev"])(
    "%s: a PodDisruptionBudget covers each esign Deployment; Services select real pods",
    (overlay) => {
      const objects = rendered[overlay] ?? [];
      const budgets = objects.filter((object) => object.kind === "PodDisruptionBudget");
      for (const deployment of esignDeployments(objects)) {
        if (deployment.metadata.name === "esign-sim") continue; // one dev replica, nothing to keep up
        const labels = deployment.spec.template.metadata.labels;
        expect(
          budgets.some((budget) => matches(budget.spec.selector.matchLabels, labels)),
          deployment.metadata.name,
        ).toBe(true);
      }
      const podTemplates = objects
        .filter((object) => object.kind === "Deployment" || object.kind === "StatefulSet")
        .map((object) => object.spec.template);
      for (const service of objects.filter((object) => object.kind === "Service")) {
        const pod = podTemplates.find((template) => matches(service.spec.selector, template.metadata.labels));
        expect(pod, `Service ${service.metadata.name}`).toBeDefined();
        const portNames = pod.spec.containers.flatMap((container: { ports?: { name: string }[] }) =>
          (container.ports ?? []).map((port) => port.name),
        );
        for (const port of service.spec.ports) expect(portNames).toContain(port.targetPort);
      }
    },
  );

  it("production commits no Secret and documents every Secret and site ConfigMap it needs", () => {
    expect(production.filter((object) => object.kind === "Secret")).toEqual([]);
    const shipped = new Set(production.map((object) => `${object.kind} ${object.metadata.name}`));
    const toCreate = [...configReferenced(production)].filter((reference) => !shipped.has(reference)).sort();
    expect(toCreate).toEqual([
      "ConfigMap esign-signers",
      "ConfigMap esign-tenants",
      "Secret esign-api-keys",
      "Secret esign-redis",
      "Secret esign-s3",
      "Secret esign-signer-credentials",
      "Secret esign-webhook-secrets",
    ]);
    const docs = read("docs/operations.md");
    for (const reference of toCreate) {
      const name = reference.split(" ")[1];
      expect(docs, `docs/operations.md tells how to create ${reference}`).toContain(`\`${name}\``);
    }
    // Credentials reach the pods through Secrets only, never as literal env values.
    for (const deployment of esignDeployments(production)) {
      for (const container of deployment.spec.template.spec.containers) {
        for (const env of container.env) {
          // *_FILE variables hold a path to a mounted Secret, not the secret.
          // (Signer profiles only name their secrets, so ESIGN_SIGNERS may come from a ConfigMap.)
          if (/PASSWORD|SECRET|TOKEN|REDIS_URL|ACCESS_KEY/.test(env.name) && !env.name.endsWith("_FILE")) {
            expect(env.valueFrom?.secretKeyRef, `${deployment.metadata.name} ${env.name}`).toBeDefined();
          }
        }
      }
    }
  });

  it.each(["production", "dev"])(
    "%s: KEDA scales the worker Deployment on the queue backlog from Prometheus",
    (overlay) => {
      const objects = rendered[overlay] ?? [];
      const scaledObject = named(objects, "ScaledObject", "esign-worker");
      named(objects, "Deployment", scaledObject.spec.scaleTargetRef.name);
      // The workers export the backlog metric: with none running there would be nothing to read.
      expect(scaledObject.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(scaledObject.spec.maxReplicaCount).toBeGreaterThan(scaledObject.spec.minReplicaCount);
      const [trigger] = scaledObject.spec.triggers;
      expect(trigger.type).toBe("prometheus");
      expect(trigger.metadata.query).toContain("esign_queue_jobs");
      for (const state of BACKLOG_STATES) expect(trigger.metadata.query).toContain(state);
    },
  );

  it.runIf(requireTool("promtool", promtool))(
    "the KEDA query counts waiting+prioritized+delayed+active once, whatever the replica count",
    async () => {
      const query = named(production, "ScaledObject", "esign-worker").spec.triggers[0].metadata.query;
      // Two worker replicas export identical queue-wide gauges. `retrying` is a subset of
      // `delayed` (attempts waiting out their backoff) and must not be added again; finished jobs,
      // parents waiting for children and the notifier's queue are not worker backlog.
      const gauges: Record<string, Record<string, number>> = {
        "esign-sign": {
          waiting: 5,
          prioritized: 1,
          delayed: 30,
          active: 8,
          retrying: 12,
          completed: 900,
          failed: 7,
        },
        "esign-batch": { waiting: 2, "waiting-children": 3 },
        "esign-webhooks": { waiting: 50 },
      };
      const inputSeries = ["worker-a", "worker-b"].flatMap((instance) =>
        Object.entries(gauges).flatMap(([queue, states]) =>
          Object.entries(states).map(([state, value]) => ({
            series: `esign_queue_jobs{queue="${queue}",state="${state}",instance="${instance}"}`,
            values: `${value}x10`,
          })),
        ),
      );
      await promtoolTest({
        rule_files: [],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: inputSeries,
            promql_expr_test: [
              { expr: query, eval_time: "5m", exp_samples: [{ labels: "{}", value: 5 + 1 + 30 + 8 + 2 }] },
            ],
          },
        ],
      });
    },
  );
});

describe.runIf(requireTool("promtool", promtool))("Prometheus rules and Grafana dashboard", () => {
  it("the rules load and their unit tests pass", async () => {
    const cwd = join(repo, "infra/observability");
    await run(promtool as string, ["check", "rules", "prometheus-rules.yml"], { cwd });
    await run(promtool as string, ["test", "rules", "prometheus-rules.test.yml"], { cwd });
  });

  it("rules and dashboard use only documented metrics, and the dashboard shows each of them", () => {
    const documented = documentedMetrics();
    expect(documented.size).toBeGreaterThanOrEqual(9);
    const rules = parse(read("infra/observability/prometheus-rules.yml")) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const alerts = rules.groups.flatMap((group) => group.rules);
    for (const rule of alerts) {
      for (const metric of metricsUsed(rule.expr)) expect(documented, rule.alert).toContain(metric);
    }
    const dashboard = JSON.parse(read("infra/observability/grafana-dashboard.json")) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const shown = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        for (const metric of metricsUsed(target.expr)) {
          expect(documented, panel.title).toContain(metric);
          shown.add(metric);
        }
      }
    }
    expect([...shown].sort()).toEqual([...documented].sort());
  });
});

// The configuration files docs/operations.md shows, loaded by the services' own loaders.
describe("configuration examples in docs/operations.md", () => {
  it("api-keys.json and tenants.json load in the API, and the tenant's signer profile exists", () => {
    const config = loadApiConfig({
      ESIGN_API_KEYS: documentedExample("api-keys.json"),
      ESIGN_TENANTS: documentedExample("tenants.json"),
      ESIGN_STORES: SITE_STORES,
    });
    expect(config.apiKeys.map((key) => key.tenant)).toEqual(["acme"]);
    const signers = JSON.parse(documentedExample("signers.json")) as Record<string, unknown>;
    expect(Object.keys(signers)).toContain(config.tenants.acme?.signer);
  });

  it.each(["signers.json", "signers.dev.json"])("%s loads in the worker", (file) => {
    const config = loadWorkerConfig({ ESIGN_SIGNERS: documentedExample(file), ESIGN_STORES: SITE_STORES });
    expect(Object.values(config.signers).map((profile) => profile.type)).toEqual(["csc"]);
  });

  it("webhook-secrets.json loads in the notifier", () => {
    const config = loadNotifierConfigFromEnv({
      REDIS_URL: "redis://127.0.0.1:6379",
      WEBHOOK_SECRETS: documentedExample("webhook-secrets.json"),
    });
    expect(Object.keys(config.tenants)).toEqual(["acme"]);
  });
});

interface ComposeService {
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
}

describe("docker-compose.yml", () => {
  const compose = parse(read("docker-compose.yml"), { merge: true }) as {
    services: Record<string, ComposeService>;
    volumes: object;
  };

  it("runs Redis with AOF fsynced every second and noeviction, on a named volume", () => {
    const redis = compose.services.redis ?? {};
    const args = (redis.command ?? []).join(" ");
    expect(args).toContain("--appendonly yes");
    expect(args).toContain("--appendfsync everysec");
    expect(args).toContain("--maxmemory-policy noeviction");
    const [volume] = (redis.volumes?.[0] ?? "").split(":");
    expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it("the workers' ESIGN_STORES loads in the worker", () => {
    const config = loadWorkerConfig({
      ESIGN_STORES: compose.services.worker?.environment?.ESIGN_STORES,
      ESIGN_SIGNERS: "{}",
    });
    expect(Object.keys(config.stores)).toEqual(["default"]);
  });

  it("starts each service only after what it needs is healthy, with two workers", () => {
    expect(compose.services.worker?.deploy?.replicas).toBe(2);
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, condition] of Object.entries(service.depends_on ?? {})) {
        expect(compose.services, `${name} -> ${dependency}`).toHaveProperty(dependency);
        expect(["service_healthy", "service_completed_successfully"], `${name} -> ${dependency}`).toContain(
          condition.condition,
        );
      }
      if (service.environment?.ESIGN_SERVICE)
        expect(SERVICES, name).toContain(service.environment.ESIGN_SERVICE);
    }
    for (const name of ["api", "worker", "notifier", "esign-sim"]) {
      expect(compose.services[name]?.environment?.ESIGN_SERVICE).toBe(name);
    }
  });

  it.runIf(requireTool("docker-compose", dockerCompose))("parses with docker-compose", async () => {
    await run("docker-compose", ["-f", join(repo, "docker-compose.yml"), "config", "-q"], { cwd: repo });
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("infra/docker/Dockerfile");
  // The bundles the image's build stage makes (`pnpm build`), unless the checkout's are current.
  beforeAll(() => run(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: repo }), 180_000);

  it("builds on node:20-bookworm-slim with a frozen lockfile and runs non-root under tini", () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toContain("pnpm install --frozen-lockfile --prod=false");
    expect(dockerfile).toContain("pnpm -s build");
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile --prod --offline/);
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((match) => match[1]);
    expect(users).toEqual(["1000:1000"]);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"/m);
  });

  it("pins the same pnpm version as the workspace", () => {
    const pnpm = (JSON.parse(read("package.json")) as { packageManager: string }).packageManager.split(
      "@",
    )[1];
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${pnpm}`);
  });

  it("runs the built JavaScript on node, without tsx", () => {
    expect(read("infra/docker/entrypoint.sh")).toMatch(/^exec node "\$entry" "\$@"$/m);
    expect(`${dockerfile}\n${read("infra/docker/entrypoint.sh")}`).not.toMatch(/\btsx\b/);
  });

  it("the entrypoint refuses an unknown service", async () => {
    const entrypoint = join(repo, "infra/docker/entrypoint.sh");
    await expect(
      run("sh", [entrypoint], { env: { ...process.env, ESIGN_SERVICE: "nope" } }),
    ).rejects.toMatchObject({
      code: 64,
    });
  });

  // The container contract, exercised on the host: the entrypoint starts the real service, the
  // image's HEALTHCHECK script turns healthy, and SIGTERM (what tini forwards) ends it cleanly.
  it.each(["api", "worker", "notifier", "esign-sim"])(
    "the entrypoint runs %s until the healthcheck passes, and SIGTERM stops it with exit 0",
    async (service) => {
      const scratch = mkdtempSync(join(tmpdir(), `esign-entrypoint-${service}-`));
      const port = String(await freePort());
      const { PORT: _port, METRICS_PORT: _metricsPort, ...inherited } = process.env;
      const env: NodeJS.ProcessEnv = {
        ...inherited,
        ESIGN_SERVICE: service,
        HOST: "127.0.0.1",
        METRICS_HOST: "127.0.0.1",
        // Only the variable this service listens on, so the healthcheck must pick the right one.
        ...(service === "api" || service === "esign-sim" ? { PORT: port } : { METRICS_PORT: port }),
        REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
        ESIGN_DATA_DIR: scratch,
        ESIGN_STORES: JSON.stringify({ default: { type: "local", root: join(scratch, "objects") } }),
        ESIGN_SIGNERS: "{}",
        ESIGN_DEV_API_KEY: "entrypoint-test-key-0123456789",
        ESIGN_SIM_DATA: join(scratch, "sim"),
        WEBHOOK_SECRETS: JSON.stringify({ tenants: {} }),
        LOG_LEVEL: "warn",
      };
      // From the repository root, as from the image's WORKDIR: the entrypoint names bundles relative to it.
      const child = spawn("sh", [join(repo, "infra/docker/entrypoint.sh")], {
        cwd: repo,
        env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      try {
        let healthy = false;
        const giveUpAt = Date.now() + 150_000;
        while (!healthy && child.exitCode === null && Date.now() < giveUpAt) {
          await delay(500);
          healthy = await run("node", [join(repo, "infra/docker/healthcheck.mjs")], { env }).then(
            () => true,
            () => false,
          );
        }
        expect(healthy, `${service} never became healthy:\n${stderr}`).toBe(true);
        child.kill("SIGTERM");
        expect(await exited, stderr).toBe(0);
      } finally {
        // After a failure: SIGTERM first, so the service closes its connections; SIGKILL only if
        // it does not stop.
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const stopped = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
          if (!stopped) child.kill("SIGKILL");
        }
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    // The simulator generates its PKI at first start; on a busy two-core machine a start under
    // tsx took 50 s, and the bundles start in about half that.
    200_000,
  );
});
