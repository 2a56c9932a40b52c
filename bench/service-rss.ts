/**
 * Memory of each service process, run the way production runs it: the separate services (E-sign
 * API simulator, worker, notifier, API, as docker-compose.yml and infra/k8s run them) and then the
 * all-in-one (`pnpm start`). For each: the time to ready, RSS once ready and idle, and RSS and peak
 * RSS after signing documents through `POST /v1/sign` (each with a webhook, so the notifier works
 * too). A process's figure covers its whole process tree: the tsx CLI runs the service in a child
 * node process (and an esbuild process while it compiles).
 *
 *   pnpm exec tsx bench/service-rss.ts [--runtime tsx,node] [--documents 50] [--write]
 *
 * `--runtime tsx` runs the TypeScript sources through tsx (how the services ran before `pnpm
 * build`, and `pnpm dev` today); `--runtime node` runs the built bundles on node (`pnpm start`, the
 * image), building them first when stale. `--write` replaces the service-memory section of
 * docs/benchmarks.md.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { freePort } from "@esign/runtime";
import { REPO_ROOT, SAMPLES_DIR, validate } from "@esign/testkit";
import { writeBenchmarksSection } from "./benchmarks-doc";

const { values } = parseArgs({
  options: {
    runtime: { type: "string", default: "tsx,node" },
    documents: { type: "string", default: "50" },
    write: { type: "boolean", default: false },
  },
});
type Runtime = "tsx" | "node";
const RUNTIMES = values.runtime.split(",") as Runtime[];
const DOCUMENTS = Number(values.documents);
/** Documents in flight at once: a few clients, well under the worker's concurrency of 8. */
const IN_FLIGHT = 4;
/** Idle time after start before the first reading: lazy initialisation and the first GCs settle. */
const SETTLE_MS = 5_000;
const PDF = join(SAMPLES_DIR, "chromium-invoice.pdf");
const DEV_KEY = `bench-${Math.random().toString(36).slice(2)}-dev-key`;

/** Entry points by their TypeScript source; the built one is `dist/NAME.js` beside `src/`. */
const SOURCES = {
  "esign-sim": "services/esign-sim/src/main.ts",
  worker: "services/worker/src/main.ts",
  notifier: "services/notifier/src/main.ts",
  api: "services/api/src/main.ts",
  "all-in-one": "services/all-in-one/src/main.ts",
};
type ServiceName = keyof typeof SOURCES;

function command(runtime: Runtime, service: ServiceName): string[] {
  const source = SOURCES[service];
  // The tsx CLI, as the image's entrypoint ran it (`exec tsx services/<name>/src/main.ts`).
  if (runtime === "tsx") return [join(REPO_ROOT, "node_modules/.bin/tsx"), source];
  return [process.execPath, source.replace("/src/", "/dist/").replace(/\.ts$/, ".js")];
}

interface Memory {
  rssMiB: number;
  peakMiB: number;
  processes: number;
}

/** The process and its descendants, from the parent ids in /proc. */
function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name (field 2) may contain spaces and parentheses; the parent id follows its last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone since readdir
    }
  }
  const tree = [root];
  for (let index = 0; index < tree.length; index++) tree.push(...(parents.get(tree[index]!) ?? []));
  return tree;
}

/** VmRSS and VmHWM (peak RSS) summed over the tree; a sum of peaks can exceed the tree's true peak. */
function memoryOf(pid: number): Memory {
  let rssKiB = 0;
  let peakKiB = 0;
  const tree = processTree(pid);
  for (const member of tree) {
    const status = readFileSync(`/proc/${member}/status`, "utf8");
    rssKiB += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    peakKiB += Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  }
  return { rssMiB: rssKiB / 1024, peakMiB: peakKiB / 1024, processes: tree.length };
}

interface Started {
  service: ServiceName;
  child: ChildProcess;
  readyMs: number;
  output: () => string;
}

/** Starts a service and polls its /healthz (the image's healthcheck) until it answers 200. */
async function start(
  runtime: Runtime,
  service: ServiceName,
  env: Record<string, string>,
  healthUrl: string,
): Promise<Started> {
  const [executable, ...args] = command(runtime, service);
  const startedAt = performance.now();
  const child = spawn(executable!, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr!.on("data", (chunk) => (output += chunk));
  while (child.exitCode === null) {
    const healthy = await fetch(healthUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return { service, child, readyMs: performance.now() - startedAt, output: () => output };
    if (performance.now() - startedAt > 180_000) break;
    await sleep(100);
  }
  child.kill("SIGTERM");
  throw new Error(`${service} (${runtime}) did not become ready:\n${output}`);
}

async function stop(started: Started): Promise<void> {
  if (started.child.exitCode !== null) return;
  const exited = new Promise((done) => started.child.once("exit", done));
  started.child.kill("SIGTERM");
  await exited;
}

/** A webhook receiver that counts deliveries. */
async function startReceiver(): Promise<{ url: string; received: () => number; close: () => void }> {
  let received = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      received++;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received: () => received, close: () => server.close() };
}

/** Signs DOCUMENTS copies of the sample through the API, IN_FLIGHT at a time; returns the last output. */
async function signDocuments(apiUrl: string, callbackUrl: string): Promise<Buffer> {
  const pdf = await readFile(PDF);
  let next = 0;
  let last = Buffer.alloc(0);
  const client = async () => {
    while (next < DOCUMENTS) {
      next++;
      const response = await fetch(`${apiUrl}/v1/sign?callbackUrl=${encodeURIComponent(callbackUrl)}`, {
        method: "POST",
        headers: { "content-type": "application/pdf", authorization: `Bearer ${DEV_KEY}` },
        body: pdf,
      });
      const body = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`POST /v1/sign: ${response.status} ${body}`);
      last = body;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, client));
  return last;
}

interface Row {
  runtime: Runtime;
  service: ServiceName;
  readyMs: number;
  idle: Memory;
  loaded: Memory;
}

/**
 * Runs `services` side by side (the all-in-one alone), signs the documents through the API and
 * reads each process's memory when ready and after the documents.
 */
async function measure(runtime: Runtime, topology: "separate" | "all-in-one"): Promise<Row[]> {
  const work = await mkdtemp(join(tmpdir(), "esign-rss-"));
  const receiver = await startReceiver();
  const prefix = `{esign-rss-${Math.random().toString(36).slice(2, 8)}}`;
  const [apiPort, simPort, workerMetrics, notifierMetrics] = await Promise.all(
    Array.from({ length: 4 }, freePort),
  );
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const simUrl = `http://127.0.0.1:${simPort}`;
  const common = {
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    ESIGN_QUEUE_PREFIX: prefix,
    ESIGN_DATA_DIR: work,
    ESIGN_DEV_API_KEY: DEV_KEY,
    ESIGN_STORES: JSON.stringify({ default: { type: "local", root: join(work, "objects") } }),
    WEBHOOK_SECRETS: JSON.stringify({
      tenants: { dev: { secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] } },
    }),
    WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
  };
  const started: Started[] = [];
  try {
    if (topology === "all-in-one") {
      const env = { ...common, PORT: String(apiPort), ESIGN_SIM_PORT: String(simPort) };
      started.push(await start(runtime, "all-in-one", env, `${apiUrl}/healthz`));
    } else {
      const simEnv = { PORT: String(simPort), ESIGN_SIM_DATA: join(work, "esign-sim") };
      started.push(await start(runtime, "esign-sim", simEnv, `${simUrl}/healthz`));
      const signers = {
        default: {
          type: "csc",
          url: `${simUrl}/csc/v2`,
          clientId: "demo",
          clientSecret: { env: "ESIGN_SIM_CLIENT_SECRET" },
          credentialId: "seal-rsa",
        },
      };
      const workerEnv = {
        ...common,
        ESIGN_SIGNERS: JSON.stringify(signers),
        ESIGN_SIM_CLIENT_SECRET: "demo-secret",
        METRICS_PORT: String(workerMetrics),
        METRICS_HOST: "127.0.0.1",
      };
      started.push(await start(runtime, "worker", workerEnv, `http://127.0.0.1:${workerMetrics}/healthz`));
      const notifierEnv = { ...common, METRICS_PORT: String(notifierMetrics) };
      started.push(
        await start(runtime, "notifier", notifierEnv, `http://127.0.0.1:${notifierMetrics}/healthz`),
      );
      started.push(await start(runtime, "api", { ...common, PORT: String(apiPort) }, `${apiUrl}/healthz`));
    }
    await sleep(SETTLE_MS);
    const idle = started.map((service) => memoryOf(service.child.pid!));

    const signed = await signDocuments(apiUrl, receiver.url);
    for (let waited = 0; receiver.received() < DOCUMENTS && waited < 60_000; waited += 100) await sleep(100);
    if (receiver.received() < DOCUMENTS) throw new Error(`${receiver.received()}/${DOCUMENTS} webhooks`);
    const output = join(work, "signed.pdf");
    await writeFile(output, signed);
    const root = await (await fetch(`${simUrl}/pki/root.pem`)).text();
    await writeFile(join(work, "root.pem"), root);
    const verdict = await validate(output, join(work, "root.pem"));
    if (!verdict.ok) throw new Error(`the last signed document does not validate:\n${verdict.output}`);
    await sleep(1_000);
    return started.map((service, index) => ({
      runtime,
      service: service.service,
      readyMs: service.readyMs,
      idle: idle[index]!,
      loaded: memoryOf(service.child.pid!),
    }));
  } finally {
    for (const service of started.reverse()) await stop(service);
    receiver.close();
    await rm(work, { recursive: true, force: true });
  }
}

if (RUNTIMES.includes("node")) {
  execFileSync(process.execPath, ["scripts/build.mjs", "--if-stale"], {
    cwd: REPO_ROOT,
    stdio: "inherit",
  });
}

const loadAtStart = loadavg()[0]!;
const rows: Row[] = [];
for (const runtime of RUNTIMES) {
  for (const topology of ["separate", "all-in-one"] as const) {
    for (const row of await measure(runtime, topology)) {
      rows.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
    }
  }
}

const mib = (value: number) => value.toFixed(0);
const table = [
  `| service | runtime | processes | ready after (s) | RSS idle (MiB) | RSS after ${DOCUMENTS} documents (MiB) | peak RSS (MiB) |`,
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...(Object.keys(SOURCES) as ServiceName[]).flatMap((service) =>
    rows
      .filter((row) => row.service === service)
      .map(
        (row) =>
          `| ${service} | ${row.runtime === "tsx" ? "tsx (before)" : "node, built (after)"} | ${row.loaded.processes} | ${(row.readyMs / 1000).toFixed(1)} | ${mib(row.idle.rssMiB)} | ${mib(row.loaded.rssMiB)} | ${mib(row.loaded.peakMiB)} |`,
      ),
  ),
];
process.stdout.write(`${table.join("\n")}\n`);

if (values.write) {
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  }).trim();
  const section = [
    "## Service memory",
    "",
    "RSS of each service process as production runs it, before (TypeScript through tsx) and after",
    "(the esbuild bundles on plain node: `pnpm build`, then `node services/<name>/dist/main.js`). The",
    "separate services run side by side as in docker-compose.yml (the E-sign API simulator as the",
    "signing service, local storage, Redis on 127.0.0.1); the all-in-one is `pnpm start` without the",
    "pnpm process around it. *RSS idle*: VmRSS 5 s after `/healthz` first answered. Then",
    `${DOCUMENTS} documents (\`chromium-invoice.pdf\`, B-B, simulator's CSC seal) go through`,
    `\`POST /v1/sign\`, ${IN_FLIGHT} at a time, each with a webhook the notifier delivers; *RSS after*: VmRSS`,
    "1 s after the last webhook; *peak*: VmHWM (summed over the tree). Figures cover the process tree:",
    "under tsx, the tsx CLI, the node process it runs the service in and, while it lives, the esbuild",
    "process tsx compiles with. The last signed document of each run passes `validate.sh`.",
    "",
    "```sh",
    `pnpm exec tsx bench/service-rss.ts --documents ${DOCUMENTS} --write`,
    "```",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} at commit ${commit} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}; 1-minute load average ${loadAtStart.toFixed(1)} when the run started (shared machine: *ready after* is the figure load moves most).`,
    "",
    ...table,
  ];
  process.stdout.write(`updated ${await writeBenchmarksSection("service-rss", section)}\n`);
}
