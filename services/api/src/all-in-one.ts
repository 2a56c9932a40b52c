/**
 * `pnpm start`: the whole agent in one process with embedded defaults, for a first run, demos and
 * development. API + worker + notifier, local-directory storage, the built-in E-sign API simulator.
 * Production runs the services separately (docker-compose.yml, infra/k8s).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { EsignError, isEsignError } from "@esign/errors";
import { defaultStoresConfig } from "@esign/storage";
import { loadNotifierConfigFromEnv, startNotifier } from "esign-notifier";
import { startSimulator } from "esign-sim";
import { createSigningWorker, loadWorkerConfig } from "esign-worker";
import { Redis } from "ioredis";
import { z } from "zod";
import { buildApi } from "./app";
import { loadApiConfig } from "./config";

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  ESIGN_SIM_PORT: z.coerce.number().int().min(0).max(65_535).default(8090),
  ESIGN_DATA_DIR: z.string().min(1).default(".data"),
  ESIGN_DEV_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
  REDIS_URL: z.string().url("must be a redis:// URL").optional(),
});

const LOCAL_REDIS = "redis://127.0.0.1:6379";

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1500,
  });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

/** REDIS_URL, else a local Redis, else a private redis-server of our own, else a clear way out. */
async function resolveRedis(
  configured: string | undefined,
  dataDir: string,
): Promise<{ url: string; stop?: () => void }> {
  if (configured) {
    if (await answers(configured)) return { url: configured };
    throw new EsignError("E_CONFIG", `REDIS_URL=${configured} does not answer`);
  }
  if (await answers(LOCAL_REDIS)) return { url: LOCAL_REDIS };
  const port = await freePort();
  const dir = resolve(dataDir, "redis");
  await mkdir(dir, { recursive: true });
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--maxmemory-policy",
      "noeviction",
    ],
    { stdio: "ignore" },
  );
  const started = await new Promise<boolean>((done) => {
    child.once("error", () => done(false));
    const url = `redis://127.0.0.1:${port}`;
    const poll = async (triesLeft: number) => {
      if (await answers(url)) return done(true);
      if (triesLeft === 0 || child.exitCode !== null) return done(false);
      setTimeout(() => void poll(triesLeft - 1), 100);
    };
    void poll(50);
  });
  if (started) return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGTERM") };
  throw new EsignError(
    "E_CONFIG",
    "no Redis: set REDIS_URL to a Redis you run, or start one on 127.0.0.1:6379, or install redis-server (e.g. apt-get install redis-server) so the agent can start a private one",
  );
}

async function main(): Promise<void> {
  const parsed = EnvSchema.safeParse(
    Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== "")),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new EsignError("E_CONFIG", `invalid configuration:\n${problems.join("\n")}`);
  }
  const env = parsed.data;
  const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), env.ESIGN_DATA_DIR);
  const devKey = env.ESIGN_DEV_API_KEY ?? `dev_${randomBytes(18).toString("base64url")}`;
  const redis = await resolveRedis(env.REDIS_URL, dataDir);

  // A private redis-server must not outlive us, whatever fails from here on.
  process.once("exit", () => redis.stop?.());
  const simulator = await startSimulator({ port: env.ESIGN_SIM_PORT, dataDir: join(dataDir, "esign-sim") });
  const trustRoot = join(dataDir, "esign-sim", "root.pem");
  await writeFile(trustRoot, simulator.rootPem);

  const stores = JSON.stringify(defaultStoresConfig(dataDir));
  // The simulator's demo client secret, handed to the worker the way production secrets are: by name.
  process.env.ESIGN_SIM_CLIENT_SECRET ??= "demo-secret";
  const worker = await createSigningWorker(
    loadWorkerConfig({
      REDIS_URL: redis.url,
      ...(process.env.ESIGN_QUEUE_PREFIX && { ESIGN_QUEUE_PREFIX: process.env.ESIGN_QUEUE_PREFIX }),
      ESIGN_STORES: stores,
      ESIGN_SIGNERS: JSON.stringify({
        default: {
          type: "csc",
          url: `${simulator.url}/csc/v2`,
          clientId: "demo",
          clientSecret: { env: "ESIGN_SIM_CLIENT_SECRET" },
          credentialId: "seal-rsa",
        },
      }),
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    }),
  );
  const webhookSecret = process.env.ESIGN_WEBHOOK_SECRET ?? `whsec_${randomBytes(24).toString("base64")}`;
  // Every notifier setting (WEBHOOK_ALLOW_CIDRS, WEBHOOK_RETRY_BASE_DELAY_MS, ...) works here too;
  // the dev tenant gets the printed secret unless WEBHOOK_SECRETS(_FILE) says otherwise.
  const notifier = startNotifier(
    loadNotifierConfigFromEnv({
      WEBHOOK_SECRETS: process.env.WEBHOOK_SECRETS_FILE
        ? undefined
        : JSON.stringify({ tenants: { dev: { secrets: [webhookSecret] } } }),
      ...process.env,
      REDIS_URL: redis.url,
    }),
  );
  const api = await buildApi({
    config: loadApiConfig({
      ...process.env,
      PORT: String(env.PORT),
      REDIS_URL: redis.url,
      ESIGN_STORES: stores,
      ESIGN_DEV_API_KEY: devKey,
      ESIGN_TRUST_ROOTS: trustRoot,
      ESIGN_READY_URLS: `${simulator.url}/healthz`,
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    }),
  });
  const address = await api.listen({ port: env.PORT, host: "127.0.0.1" });

  const stop = async () => {
    try {
      await api.close();
      await worker.close();
      await notifier.close();
      await simulator.close();
    } finally {
      process.exit(0); // the "exit" handler stops a private redis-server
    }
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());

  process.stdout.write(
    [
      "esign-agent is running (all-in-one: API, worker, notifier, E-sign API simulator)",
      `  API:            ${address}   (OpenAPI: ${address}/openapi.json, docs: ${address}/docs)`,
      `  dev API key:    ${devKey}`,
      `  simulator:      ${simulator.url}   (trust anchor: ${simulator.url}/pki/root.pem)`,
      `  storage:        ${join(dataDir, "objects")}`,
      `  redis:          ${redis.url}`,
      `  webhook secret: ${webhookSecret}`,
      "Sign a PDF:",
      `  curl --data-binary @in.pdf -H 'content-type: application/pdf' -H 'authorization: Bearer ${devKey}' ${address}/v1/sign > out.pdf`,
      "",
    ].join("\n"),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `esign-agent: ${isEsignError(error) ? `${error.code}: ` : ""}${(error as Error).message}\n`,
  );
  process.exit(1);
});
