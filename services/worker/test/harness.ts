import { randomUUID } from "node:crypto";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SigningClient } from "@esign/jobs";
import { createTestPki, type TestPkiFiles, writeTestPki } from "@esign/pades/testing";
import { SAMPLES_DIR } from "@esign/testkit";
import { Redis } from "ioredis";
import { type Logger, pino } from "pino";
import { createSigningWorker, type SigningWorker, type WorkerConfig } from "../src/index";

export const REDIS_URL = "redis://127.0.0.1:6379";
export const SAMPLE = join(SAMPLES_DIR, "chromium-invoice.pdf");
const P12_PASSWORD = "worker test";

export interface Harness {
  prefix: string;
  root: string;
  pki: TestPkiFiles;
  redis: Redis;
  client: SigningClient;
  /** Copies `file` (default the sample) into the local store under `key`. */
  put(key: string, file?: string): Promise<void>;
  /** `logger`: where the worker logs; default silent. */
  startWorker(overrides?: Partial<WorkerConfig>, logger?: Logger): Promise<SigningWorker>;
  /** Value of a counter or gauge sample in the worker's registry. */
  metric(worker: SigningWorker, name: string, labels?: Record<string, string>): Promise<number>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

/** A unique `{prefix}` per test file, a local store in a temp dir, a p12 signer; all removed by close(). */
export async function createHarness(): Promise<Harness> {
  const prefix = `{esign-worker-test-${randomUUID().slice(0, 8)}}`;
  const root = await mkdtemp(join(tmpdir(), "esign-worker-"));
  const pki = await writeTestPki(
    await createTestPki({ intermediate: true }),
    join(root, "pki"),
    P12_PASSWORD,
  );
  process.env.WORKER_TEST_P12_PASSWORD = P12_PASSWORD;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const client = new SigningClient({
    connection: redis,
    prefix,
    jobOptions: { attempts: 4, backoff: { type: "exponential", delay: 100, jitter: 0.5 } },
  });
  const workers: SigningWorker[] = [];
  const documents = join(root, "documents");
  const stopWorkers = async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
  };

  return {
    prefix,
    root,
    pki,
    redis,
    client,
    async put(key, file = SAMPLE) {
      await mkdir(dirname(join(documents, key)), { recursive: true });
      await copyFile(file, join(documents, key));
    },
    async startWorker(overrides = {}, logger = pino({ level: "silent" })) {
      const worker = await createSigningWorker(
        {
          redisUrl: REDIS_URL,
          prefix,
          queues: ["esign-sign", "esign-batch"],
          stores: { default: { type: "local", root: documents } },
          signers: {
            seal: { type: "p12", p12Path: pki.p12, password: { env: "WORKER_TEST_P12_PASSWORD" } },
          },
          concurrency: 4,
          signingRateLimit: undefined,
          metricsPort: undefined,
          metricsHost: "127.0.0.1",
          lockDurationMs: 30_000,
          stalledIntervalMs: 30_000,
          maxStalledCount: 3,
          unknownStoreWaitMs: 15 * 60_000,
          signerProbeIntervalMs: 10_000,
          logLevel: "silent",
          ...overrides,
        },
        { logger },
      );
      workers.push(worker);
      return worker;
    },
    async metric(worker, name, labels = {}) {
      const metric = await worker.metrics.registry.getSingleMetric(name)?.get();
      const sample = metric?.values.find((value) =>
        Object.entries(labels).every(([label, expected]) => String(value.labels[label]) === expected),
      );
      return sample?.value ?? 0;
    },
    stopWorkers,
    async close() {
      await stopWorkers();
      await client.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await rm(root, { recursive: true, force: true });
    },
  };
}
