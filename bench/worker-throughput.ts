/**
 * Signing-worker throughput: documents per second through the whole job path (SigningClient →
 * Redis → worker processes → S3 read → prepare/digest → sign → embed → verify → S3 upload →
 * events), for a key held by the worker and for the E-sign API simulator's CSC API with 100 ms
 * latency per sign call, with one and two worker processes.
 *
 *   pnpm exec tsx bench/worker-throughput.ts [--jobs 300] [--write]
 *
 * `--write` replaces the worker-throughput section of docs/benchmarks.md (other sections stay).
 */
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { startCluster } from "../test/worker-cluster";
import { writeBenchmarksSection } from "./benchmarks-doc";

const { values } = parseArgs({
  options: { jobs: { type: "string", default: "300" }, write: { type: "boolean", default: false } },
});
const JOBS = Number(values.jobs);
const CONCURRENCY = 8;

interface Scenario {
  backend: string;
  signer: string;
  latencyMs: number;
  workers: number;
}

const scenarios: Scenario[] = [1, 2].flatMap((workers) => [
  { backend: "local key (p12 in the worker)", signer: "local-seal", latencyMs: 0, workers },
  { backend: "simulator CSC API, 100 ms latency", signer: "seal-rsa", latencyMs: 100, workers },
]);

async function measure(scenario: Scenario): Promise<number> {
  const cluster = await startCluster({
    workerEnv: { WORKER_CONCURRENCY: String(CONCURRENCY) },
  });
  try {
    if (scenario.latencyMs > 0) cluster.sim.setFaults({ routes: ["sign"], latencyMs: scenario.latencyMs });
    await cluster.upload("inbox/invoice.pdf");
    const workers = await Promise.all(Array.from({ length: scenario.workers }, () => cluster.startWorker()));
    const started = performance.now();
    await cluster.client.submitBulk(
      Array.from({ length: JOBS }, (_, index) => ({
        input: { store: "default", key: "inbox/invoice.pdf" },
        output: { store: "default", key: `signed/${index}.pdf` },
        signer: scenario.signer,
      })),
    );
    while ((await cluster.count("completed")) < JOBS) {
      if ((await cluster.count("failed")) > 0) throw new Error("a benchmark job failed");
      await sleep(50);
    }
    const seconds = (performance.now() - started) / 1000;
    for (const worker of workers) worker.child.kill("SIGTERM");
    await Promise.all(workers.map((worker) => worker.exited));
    return JOBS / seconds;
  } finally {
    await cluster.close();
  }
}

// Other processes on the machine slow every figure down; the table says how busy it was.
const loadAtStart = loadavg()[0]!;
const rows: string[] = [];
for (const scenario of scenarios) {
  const rate = await measure(scenario);
  const row = `| ${scenario.backend} | ${scenario.workers} | ${CONCURRENCY} | ${JOBS} | ${rate.toFixed(1)} |`;
  process.stdout.write(`${row}\n`);
  rows.push(row);
}

const section = [
  "## Signing worker throughput",
  "",
  "Documents per second through the whole job path: `SigningClient.submitBulk` → Redis → worker",
  "processes (`node --import tsx services/worker/src/main.ts`) → ranged S3 reads from s3rver →",
  "prepare, digest, sign, embed, verify → S3 upload → events stream, timed from the submission to the",
  "last completion. Input: `chromium-invoice.pdf` (31 KB), PAdES B-B, RSA-2048. The simulator runs",
  "in the benchmark process; `latencyMs` is added to each sign call.",
  "",
  "```sh",
  `pnpm exec tsx bench/worker-throughput.ts --jobs ${JOBS} --write`,
  "```",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}; Redis, s3rver, the simulator and the workers share these cores; 1-minute load average ${loadAtStart.toFixed(1)} when the run started.`,
  "",
  "| signer | worker processes | concurrency each | jobs | documents/s |",
  "| --- | --- | --- | --- | --- |",
  ...rows,
  "",
  "With a local key the workers are CPU-bound (parsing, hashing twice, verifying, S3 I/O over HTTP);",
  "with a remote signer each job mostly waits for the sign call, so throughput follows",
  "`processes × concurrency ÷ latency` until the CPU or `SIGNING_RATE_LIMIT` caps it.",
];

if (values.write) {
  process.stdout.write(`updated ${await writeBenchmarksSection("worker-throughput", section)}\n`);
}
