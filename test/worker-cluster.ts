import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { SIGNING_QUEUES, SigningClient } from "@esign/jobs";
import { createStores, type StoreRegistry } from "@esign/storage";
import { REPO_ROOT, SAMPLES_DIR } from "@esign/testkit";
import { Queue } from "bullmq";
import { type Simulator, startSimulator } from "esign-sim";
import { Redis } from "ioredis";
import { type RunningS3, startS3 } from "../packages/storage/test/s3-server";

export const REDIS_URL = "redis://127.0.0.1:6379";
export const SMALL_PDF = join(SAMPLES_DIR, "chromium-invoice.pdf");
const WORKER_MAIN = join(REPO_ROOT, "services/worker/src/main.ts");
/** The esbuild bundle production runs (`pnpm build`). */
export const WORKER_BUNDLE = join(REPO_ROOT, "services/worker/dist/main.js");
const SIM_CLIENT_SECRET = "demo-secret";
export const LOCAL_P12_PASSWORD = "local seal";
const run = promisify(execFile);

/**
 * A self-signed RSA seal in a PKCS#12 file, for the `local-seal` profile (a key held by the worker
 * itself, no signing service): made with openssl, as an operator would.
 */
export async function makeLocalP12(directory: string): Promise<string> {
  const key = join(directory, "local-seal.key");
  const certificate = join(directory, "local-seal.pem");
  const p12 = join(directory, "local-seal.p12");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "30",
    "-subj",
    "/CN=Local Seal/O=esign-agent tests",
    "-keyout",
    key,
    "-out",
    certificate,
  ]);
  await run("openssl", [
    "pkcs12",
    "-export",
    "-inkey",
    key,
    "-in",
    certificate,
    "-passout",
    `pass:${LOCAL_P12_PASSWORD}`,
    "-out",
    p12,
  ]);
  return p12;
}

export interface WorkerProcess {
  child: ChildProcess;
  metricsUrl: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Count of log lines with this message, so far. */
  logged(message: string): number;
}

export interface ClusterOptions {
  /** Environment every worker gets on top of the defaults. */
  workerEnv?: Record<string, string>;
  /**
   * A built worker (`WORKER_BUNDLE`, or another checkout's) to run on plain node, as production
   * does, instead of the sources under tsx.
   */
  workerBundle?: string;
  /** Extra node flags for every worker (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Settings added to the remote signer profiles (`seal-rsa`, `seal-esign-api`). */
  remoteProfileOptions?: Record<string, unknown>;
}

export interface Cluster {
  prefix: string;
  sim: Simulator;
  s3: RunningS3;
  stores: StoreRegistry;
  redis: Redis;
  client: SigningClient;
  rootPemPath: string;
  scratch: string;
  startWorker(env?: Record<string, string>): Promise<WorkerProcess>;
  /** Uploads `file` to the S3 store `default` under `key`. */
  upload(key: string, file?: string): Promise<void>;
  /** Jobs in `state` across both signing queues. */
  count(state: "completed" | "failed" | "active"): Promise<number>;
  /** Downloads an object to a scratch file and returns its path. */
  download(key: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The real parts of a deployment on one machine: Redis (a unique `{prefix}` per cluster, removed
 * by close()), s3rver over HTTP, the E-sign API simulator over HTTP, and workers as separate
 * `tsx services/worker/src/main.ts` processes configured through their environment.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const prefix = `{esign-e2e-${randomUUID().slice(0, 8)}}`;
  const scratch = await mkdtemp(join(tmpdir(), "esign-worker-e2e-"));
  const sim = await startSimulator();
  const s3 = await startS3();
  // `local`: a directory beside the S3 store, for comparing the two storage paths.
  const storesConfig = {
    default: s3.config(),
    local: { type: "local" as const, root: join(scratch, "local-store") },
  };
  const stores = createStores(storesConfig);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const client = new SigningClient({
    connection: redis,
    prefix,
    // Short backoff so retries after injected faults fit in a test; the policy is the same.
    jobOptions: { attempts: 12, backoff: { type: "exponential", delay: 200, jitter: 0.5 } },
  });
  const rootPemPath = join(scratch, "sim-root.pem");
  await writeFile(rootPemPath, sim.rootPem);
  const localP12 = await makeLocalP12(scratch);
  const sealCertificate = join(scratch, "seal-rsa.der");
  await writeFile(sealCertificate, sim.pki.credentials.get("seal-rsa")!.der);
  const processes: WorkerProcess[] = [];
  const queues = SIGNING_QUEUES.map((name) => new Queue(name, { connection: redis, prefix }));

  const baseEnv = {
    ...process.env,
    REDIS_URL,
    ESIGN_QUEUE_PREFIX: prefix,
    ESIGN_STORES: JSON.stringify(storesConfig),
    ESIGN_SIGNERS: JSON.stringify({
      "seal-rsa": {
        type: "csc",
        url: `${sim.url}/csc/v2`,
        clientId: "demo",
        clientSecret: { env: "SIM_CLIENT_SECRET" },
        credentialId: "seal-rsa",
        ...options.remoteProfileOptions,
      },
      // The same seal with hash batching, as a batch deployment configures it (multisign 100).
      "seal-rsa-batched": {
        type: "csc",
        url: `${sim.url}/csc/v2`,
        clientId: "demo",
        clientSecret: { env: "SIM_CLIENT_SECRET" },
        credentialId: "seal-rsa",
        hashBatching: { maxHashes: 100, maxWaitMs: 200 },
      },
      // The simulator's CMS-returning API; certificate and /Contents size configured, so the
      // signer never spends a billed probe signature to learn them.
      "seal-esign-api": {
        type: "esign-api",
        url: sim.url,
        apiKey: { env: "SIM_API_KEY" },
        credentialId: "seal-rsa",
        certificatePath: sealCertificate,
        contentsSize: 16_384,
        documentTimestampUrls: [`${sim.url}/tsa`],
        ...options.remoteProfileOptions,
      },
      "local-seal": { type: "p12", p12Path: localP12, password: { env: "LOCAL_P12_PASSWORD" } },
    }),
    SIM_CLIENT_SECRET,
    SIM_API_KEY: "demo-key",
    LOCAL_P12_PASSWORD,
    METRICS_PORT: "0",
    METRICS_HOST: "127.0.0.1",
    WORKER_CONCURRENCY: "8",
    LOG_LEVEL: "info",
    ...options.workerEnv,
  };

  return {
    prefix,
    sim,
    s3,
    stores,
    redis,
    client,
    rootPemPath,
    scratch,
    async startWorker(env = {}) {
      // `node --import tsx` rather than the tsx CLI: the CLI runs the script in a child process of
      // its own, so a SIGKILL would hit the wrapper and leave the real worker running.
      const entry = options.workerBundle ? [options.workerBundle] : ["--import", "tsx", WORKER_MAIN];
      const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry], {
        cwd: REPO_ROOT,
        env: { ...baseEnv, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const messages = new Map<string, number>();
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const metricsUrl = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on("line", (line) => {
          let entry: { msg?: string; metrics?: string };
          try {
            entry = JSON.parse(line);
          } catch {
            return;
          }
          if (process.env.DEBUG_WORKER_LOGS) process.stderr.write(`${line}\n`);
          if (entry.msg) messages.set(entry.msg, (messages.get(entry.msg) ?? 0) + 1);
          if (entry.msg === "signing worker started" && entry.metrics) resolve(entry.metrics);
        });
        void exited.then((code) => reject(new Error(`worker exited (${code}) before starting: ${stderr}`)));
      });
      const worker: WorkerProcess = {
        child,
        metricsUrl,
        exited,
        logged: (message) => messages.get(message) ?? 0,
      };
      processes.push(worker);
      return worker;
    },
    async upload(key, file = SMALL_PDF) {
      await stores.get("default").write(key, [await readFile(file)]);
    },
    async count(state) {
      const counts = await Promise.all(queues.map((queue) => queue.getJobCounts(state)));
      return counts.reduce((sum, each) => sum + (each[state] ?? 0), 0);
    },
    async download(key) {
      const path = join(scratch, key.replaceAll("/", "_"));
      await writeFile(path, await stores.get("default").read(key, { maxBytes: 64 * 1024 * 1024 }));
      return path;
    },
    async close() {
      for (const worker of processes) if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
      await Promise.all(processes.map((worker) => worker.exited));
      await client.close();
      await Promise.all(queues.map((queue) => queue.close()));
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await stores.close();
      await Promise.all([sim.close(), s3.stop()]);
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** Scrapes a worker's /metrics and sums the samples of `name` whose labels include `labels`. */
export async function scrape(worker: WorkerProcess, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${worker.metricsUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const sampleLabels = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]),
    );
    if (Object.entries(labels).every(([key, value]) => sampleLabels[key] === value))
      total += Number(match[3]);
  }
  return total;
}
