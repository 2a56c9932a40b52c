/**
 * Nightly batch: one source-prefix batch of N documents through `POST /v1/batches`, signed by
 * worker processes over the E-sign API simulator's CSC API (organisation seal, multisign 100),
 * while an interactive client keeps calling `POST /v1/sign`. Reports total time, documents/s,
 * peak Redis memory (a private redis-server, so the peak is the run's own), the p95 latency of
 * the interactive calls idle and during the batch, and signing API calls per document.
 *
 *   pnpm exec tsx bench/batch.ts [--documents 10000] [--hash-batching on|off] [--workers 2]
 *                                [--concurrency 64] [--topology dedicated|mixed] [--batch-nice 0]
 *                                [--max-wait-ms 5000] [--write]
 *
 * `--write` replaces the "Batches" section of docs/benchmarks.md (other sections stay), adding a
 * row per run to its table.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs, promisify } from "node:util";
import { freePort } from "@esign/runtime";
import { REPO_ROOT, SAMPLES_DIR } from "@esign/testkit";
import { buildApi } from "../services/api/src/app";
import { loadApiConfig } from "../services/api/src/config";
import { startSimulator } from "../services/esign-sim/src";

const { values } = parseArgs({
  options: {
    documents: { type: "string", default: "10000" },
    "hash-batching": { type: "string", default: "on" },
    workers: { type: "string", default: "2" },
    concurrency: { type: "string", default: "64" },
    topology: { type: "string", default: "dedicated" },
    "batch-nice": { type: "string", default: "0" },
    "max-wait-ms": { type: "string", default: "1000" },
    write: { type: "boolean", default: false },
  },
});
const DOCUMENTS = Number(values.documents);
const HASH_BATCHING = values["hash-batching"] === "on";
const WORKERS = Number(values.workers);
const CONCURRENCY = Number(values.concurrency);
/**
 * `mixed`: every worker process consumes both signing queues (the default deployment).
 * `dedicated`: the batch workers consume only esign-batch (at `--batch-nice`), and one more
 * worker consumes only esign-sign, so interactive jobs share the CPU with batch documents through
 * the operating system's scheduler instead of one event loop.
 */
const TOPOLOGY = values.topology === "mixed" ? "mixed" : "dedicated";
const BATCH_NICE = Number(values["batch-nice"]);
/**
 * How long a batch worker's hash batcher waits for company. Calls per document come to about
 * 1 / (documents per second per worker × this), so a slow machine needs seconds; the interactive
 * worker of the dedicated topology signs without batching, so its jobs never wait.
 */
const MAX_WAIT_MS = Number(values["max-wait-ms"]);
const IDLE_CALLS = 30;
/** The interactive client: one call at a time, one call a second, like a person at a desk. */
const INTERACTIVE_PAUSE_MS = 1_000;
const DEV_KEY = `bench-${Math.random().toString(36).slice(2)}-key`;
const PDF = join(SAMPLES_DIR, "chromium-invoice.pdf");
/** The built worker, as production runs it (`pnpm build` first). */
const WORKER_BUNDLE = join(REPO_ROOT, "services/worker/dist/main.js");

/** redis-cli, so the benchmark needs no Redis client library of its own. */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)("redis-cli", ["-p", String(port), ...args]);
  return stdout;
}

async function startRedis(): Promise<{ url: string; port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 100; i++) {
    if ((await redisCli(port, "ping").catch(() => "")).trim() === "PONG") {
      return { url: `redis://127.0.0.1:${port}`, port, child };
    }
    await sleep(100);
  }
  throw new Error("redis-server did not start");
}

async function usedMemory(port: number, field: "used_memory" | "used_memory_peak"): Promise<number> {
  return Number(new RegExp(`${field}:(\\d+)`).exec(await redisCli(port, "info", "memory"))![1]);
}

function startWorker(env: NodeJS.ProcessEnv, niceness = 0): Promise<ChildProcess> {
  const child = spawn("nice", ["-n", String(niceness), process.execPath, WORKER_BUNDLE], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"signing worker started"')) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before starting`)));
  });
}

/** Resident set size of a process, MiB (Linux /proc). */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

interface Sample {
  seconds: number;
  completed: number;
  /** Documents per second since the previous sample. */
  rate: number;
  /** RSS of each batch worker, MiB. */
  workerRssMiB: number[];
  redisMiB: number;
}

function p95(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}

async function main() {
  const scratch = await mkdtemp(join(tmpdir(), "esign-bench-batch-"));
  const redis = await startRedis();
  const sim = await startSimulator();
  const stores = { default: { type: "local" as const, root: join(scratch, "objects") } };
  const workers: ChildProcess[] = [];
  try {
    await mkdir(join(scratch, "objects", "in"), { recursive: true });
    for (let start = 0; start < DOCUMENTS; start += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, DOCUMENTS - start) }, (_, offset) =>
          copyFile(PDF, join(scratch, "objects", "in", `doc-${String(start + offset).padStart(6, "0")}.pdf`)),
        ),
      );
    }
    const signers = (hashBatching: boolean) =>
      JSON.stringify({
        default: {
          type: "csc",
          url: `${sim.url}/csc/v2`,
          clientId: "demo",
          clientSecret: { env: "SIM_CLIENT_SECRET" },
          credentialId: "seal-rsa",
          ...(hashBatching && { hashBatching: { maxHashes: 100, maxWaitMs: MAX_WAIT_MS } }),
        },
      });
    const workerEnv = {
      ...process.env,
      REDIS_URL: redis.url,
      ESIGN_STORES: JSON.stringify(stores),
      ESIGN_SIGNERS: signers(HASH_BATCHING),
      SIM_CLIENT_SECRET: "demo-secret",
      WORKER_CONCURRENCY: String(CONCURRENCY),
      LOG_LEVEL: "info",
    };
    if (TOPOLOGY === "mixed") {
      workers.push(...(await Promise.all(Array.from({ length: WORKERS }, () => startWorker(workerEnv)))));
    } else {
      const batchEnv = { ...workerEnv, WORKER_QUEUES: "esign-batch" };
      const interactiveEnv = {
        ...workerEnv,
        WORKER_QUEUES: "esign-sign",
        WORKER_CONCURRENCY: "8",
        ESIGN_SIGNERS: signers(false),
      };
      workers.push(
        ...(await Promise.all([
          ...Array.from({ length: WORKERS }, () => startWorker(batchEnv, BATCH_NICE)),
          startWorker(interactiveEnv),
        ])),
      );
    }
    const api = await buildApi({
      config: loadApiConfig({
        REDIS_URL: redis.url,
        ESIGN_STORES: JSON.stringify(stores),
        ESIGN_DEV_API_KEY: DEV_KEY,
        RATE_LIMIT_PER_MINUTE: "1000000",
        LOG_LEVEL: "warn",
      }),
    });
    const base = await api.listen({ port: 0, host: "127.0.0.1" });
    const headers = { authorization: `Bearer ${DEV_KEY}` };
    const pdf = await readFile(PDF);

    const signOnce = async (): Promise<number> => {
      const started = performance.now();
      const response = await fetch(`${base}/v1/sign`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/pdf" },
        body: pdf,
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`POST /v1/sign answered ${response.status}`);
      return performance.now() - started;
    };

    const idle: number[] = [];
    for (let i = 0; i < IDLE_CALLS; i++) idle.push(await signOnce());
    sim.resetUsage();
    const baseline = await usedMemory(redis.port, "used_memory");

    const started = performance.now();
    const created = await fetch(`${base}/v1/batches`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({
        source: { store: "default", prefix: "in/" },
        target: { store: "default", prefix: "out/" },
      }),
    });
    const { id } = (await created.json()) as { id: string };
    let done = false;
    const busy: number[] = [];
    const interactive = (async () => {
      while (!done) {
        busy.push(await signOnce());
        await sleep(INTERACTIVE_PAUSE_MS);
      }
    })();
    // biome-ignore lint/suspicious/noExplicitAny: the status body is read field by field below
    let status: any;
    const timeline: Sample[] = [];
    const batchWorkers = workers.slice(0, TOPOLOGY === "mixed" ? workers.length : WORKERS);
    for (;;) {
      status = await (await fetch(`${base}/v1/batches/${id}`, { headers })).json();
      const seconds = (performance.now() - started) / 1000;
      const previous = timeline.at(-1);
      const completed = Number(status.counts?.completed ?? 0);
      timeline.push({
        seconds: Number(seconds.toFixed(1)),
        completed,
        rate: previous
          ? Number(((completed - previous.completed) / (seconds - previous.seconds)).toFixed(1))
          : 0,
        workerRssMiB: await Promise.all(
          batchWorkers.map(async (worker) => Math.round(await rssMiB(worker.pid!))),
        ),
        redisMiB: Number(((await usedMemory(redis.port, "used_memory")) / 2 ** 20).toFixed(1)),
      });
      if (status.state === "completed") break;
      process.stderr.write(`\r${JSON.stringify(status.counts)} ${status.throughput?.toFixed(1)} docs/s   `);
      await sleep(5_000);
    }
    const seconds = (performance.now() - started) / 1000;
    done = true;
    await interactive;
    const usage = sim.usage();
    const peak = await usedMemory(redis.port, "used_memory_peak");
    const interactiveSignatures = busy.length;
    const result = {
      documents: DOCUMENTS,
      completed: status.counts.completed,
      failed: status.counts.failed,
      hashBatching: HASH_BATCHING ? `on (100 hashes / ${MAX_WAIT_MS} ms)` : "off",
      topology: TOPOLOGY === "dedicated" && BATCH_NICE > 0 ? `dedicated, batch nice ${BATCH_NICE}` : TOPOLOGY,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      seconds: Number(seconds.toFixed(1)),
      documentsPerSecond: Number((status.counts.completed / seconds).toFixed(1)),
      redisPeakMiB: Number((peak / 2 ** 20).toFixed(1)),
      redisBaselineMiB: Number((baseline / 2 ** 20).toFixed(1)),
      idleP95Ms: Math.round(p95(idle)),
      busyP95Ms: Math.round(p95(busy)),
      interactiveCalls: busy.length,
      // Interactive documents are signed by the same credential: their calls are taken out.
      signCallsPerDocument: Number(
        ((usage.signCalls - interactiveSignatures) / (usage.signatures - interactiveSignatures)).toFixed(4),
      ),
      signCalls: usage.signCalls,
      workerRssMiB: `${timeline[0]?.workerRssMiB.join("+")} → max ${Math.max(...timeline.flatMap((sample) => sample.workerRssMiB))} → ${timeline.at(-1)?.workerRssMiB.join("+")}`,
      loadAverage: loadavg()[0]!.toFixed(1),
      signatures: usage.signatures,
    };
    process.stderr.write("\n");
    console.log(JSON.stringify(result, null, 2));
    // Every tenth of the run: docs/s over time, worker RSS, Redis memory.
    const step = Math.max(1, Math.floor(timeline.length / 10));
    for (const sample of timeline.filter((_, index) => index % step === 0 || index === timeline.length - 1)) {
      console.log(
        `t=${sample.seconds}s completed=${sample.completed} rate=${sample.rate}/s workerRSS=${sample.workerRssMiB.join("+")}MiB redis=${sample.redisMiB}MiB`,
      );
    }
    if (values.write) await writeSection(result);
    await api.close();
  } finally {
    for (const worker of workers) worker.kill("SIGTERM");
    await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("exit", resolve))));
    await sim.close();
    redis.child.kill("SIGTERM");
    await rm(scratch, { recursive: true, force: true });
  }
}

type Result = Record<string, number | boolean | string>;

const HEADER = "## Batches";
const TABLE_HEAD =
  "| documents | hash batching | topology | batch workers × concurrency | total s | docs/s | failed | Redis peak MiB | interactive p95 idle / during batch (ms) | sign calls per document | batch worker RSS MiB (start → max → end) | load average at end |\n" +
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";

async function writeSection(result: Result): Promise<void> {
  const path = join(REPO_ROOT, "docs/benchmarks.md");
  const text = existsSync(path) ? await readFile(path, "utf8") : "# Benchmarks\n";
  const start = text.indexOf(`${HEADER}\n`);
  const end = start < 0 ? -1 : text.indexOf("\n## ", start + HEADER.length);
  const previous = start < 0 ? "" : text.slice(start, end < 0 ? undefined : end);
  const lines = previous.split("\n");
  const rows = lines.filter((line) => /^\| \d/.test(line));
  // Hand-written findings below the table survive new runs.
  const lastRow = lines.findLastIndex((line) => /^\| \d/.test(line));
  const notes = lastRow < 0 ? [] : lines.slice(lastRow + 1);
  rows.push(
    `| ${result.documents} | ${result.hashBatching} | ${result.topology} | ${result.workers} × ${result.concurrency} | ${result.seconds} | ${result.documentsPerSecond} | ${result.failed} | ${result.redisPeakMiB} | ${result.idleP95Ms} / ${result.busyP95Ms} (${result.interactiveCalls} calls) | ${result.signCallsPerDocument} | ${result.workerRssMiB} | ${result.loadAverage} |`,
  );
  const section = [
    HEADER,
    "",
    "One source-prefix batch through `POST /v1/batches` (local-directory store, the E-sign API simulator's",
    "CSC API with its `seal-rsa` organisation seal, multisign 100), worker processes on this machine",
    `(${cpus().length} cores, shared with other work), while one interactive client calls \`POST /v1/sign\``,
    "once a second. Redis is a private redis-server, so its `used_memory_peak` is the run's own.",
    "Sign calls per document leave out the interactive documents' own calls. Topology `mixed`: every",
    "worker consumes both queues; `dedicated`: the batch workers consume only `esign-batch` and one",
    "more worker only `esign-sign` (see docs/batches.md, Fairness).",
    "",
    "    pnpm exec tsx bench/batch.ts --documents 10000 --hash-batching on --write",
    "    pnpm exec tsx bench/batch.ts --documents 2000 --hash-batching on --topology mixed --write",
    "    pnpm exec tsx bench/batch.ts --documents 2000 --hash-batching off --write",
    "",
    TABLE_HEAD,
    ...rows,
    ...(notes.some((line) => line.trim()) ? notes : [""]),
  ].join("\n");
  const updated =
    start < 0
      ? `${text.trimEnd()}\n\n${section}`
      : `${text.slice(0, start)}${section}${end < 0 ? "" : text.slice(end)}`;
  await writeFile(path, updated.endsWith("\n") ? updated : `${updated}\n`);
}

await main();
