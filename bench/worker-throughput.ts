/**
 * Signing-worker throughput: documents per second through the whole job path (SigningClient →
 * Redis → worker processes → S3 read → prepare/digest → sign → embed → verify → S3 upload →
 * events), for a key held by the worker and for the E-sign API simulator's CSC API with 100 ms
 * latency per sign call (hash batching on), with one and two worker processes, on a 1-page and a
 * 50-page PDF. Workers run the built bundle (`pnpm build`, `node services/worker/dist/main.js`),
 * as production does; `--tsx` runs the sources instead, `--bundle PATH` another build (e.g. the
 * commit before a change, for an A/B run under the same load).
 *
 *   pnpm build && pnpm exec tsx bench/worker-throughput.ts [--jobs 300] [--workers 1,2]
 *        [--pages 1,50] [--signers local,csc] [--concurrency 16] [--cpu-prof DIR] [--write]
 *
 * `--cpu-prof DIR` starts the workers with `node --cpu-prof --cpu-prof-dir DIR` (one .cpuprofile
 * per worker process, written when it drains). `--write` replaces the worker-throughput section
 * of docs/benchmarks.md (other sections stay).
 */
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "@esign/testkit";
import { PDFDocument } from "pdf-lib";
import { SMALL_PDF, startCluster, WORKER_BUNDLE } from "../test/worker-cluster";
import { writeBenchmarksSection } from "./benchmarks-doc";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "300" },
    workers: { type: "string", default: "1,2" },
    pages: { type: "string", default: "1,50" },
    signers: { type: "string", default: "local,csc" },
    /** `s3`: s3rver over HTTP (the cluster's `default` store); `local`: a local-directory store. */
    stores: { type: "string", default: "s3" },
    concurrency: { type: "string", default: "16" },
    "csc-concurrency": { type: "string", default: "64" },
    "cpu-prof": { type: "string" },
    tsx: { type: "boolean", default: false },
    bundle: { type: "string", default: WORKER_BUNDLE },
    write: { type: "boolean", default: false },
  },
});
const JOBS = Number(values.jobs);
const STORE_NAMES: Record<string, string> = { s3: "default", local: "local" };
const list = (text: string) => text.split(",").map((item) => item.trim());

interface Backend {
  label: string;
  signer: string;
  latencyMs: number;
  /** Jobs per worker process at once: a remote signer needs many in flight to cover its latency. */
  concurrency: number;
}
const BACKENDS: Record<string, Backend> = {
  local: {
    label: "local key (p12 in the worker)",
    signer: "local-seal",
    latencyMs: 0,
    concurrency: Number(values.concurrency),
  },
  csc: {
    label: "simulator CSC API, 100 ms latency, hash batching",
    signer: "seal-rsa-batched",
    latencyMs: 100,
    concurrency: Number(values["csc-concurrency"]),
  },
};

/** The invoice's page repeated `pages` times (pdf-lib), written beside the other scratch files. */
async function inputWithPages(pages: number, directory: string): Promise<string> {
  if (pages === 1) return SMALL_PDF;
  const invoice = await PDFDocument.load(await readFile(SMALL_PDF));
  const document = await PDFDocument.create();
  for (let page = 0; page < pages; page++) {
    const [copy] = await document.copyPages(invoice, [page % invoice.getPageCount()]);
    document.addPage(copy!);
  }
  const path = join(directory, `invoice-${pages}-pages.pdf`);
  await writeFile(path, await document.save());
  return path;
}

interface Scenario {
  /** `s3` or `local`. */
  store: string;
  backend: Backend;
  workers: number;
  pages: number;
}

interface Measured {
  rate: number;
  /** CPU time of the worker processes per document, ms (user + system, from /proc). */
  workerCpuMs: number;
  /** CPU time of this process (s3rver, the simulator, the client) per document, ms. */
  benchCpuMs: number;
  inputBytes: number;
  signCalls: number;
  loadStart: number;
  loadEnd: number;
}

async function measure({ store, backend, workers: workerCount, pages }: Scenario): Promise<Measured> {
  const STORE = STORE_NAMES[store] ?? "default";
  const cluster = await startCluster({
    workerBundle: values.tsx ? undefined : values.bundle,
    nodeArgs: values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", values["cpu-prof"]] : [],
    workerEnv: { WORKER_CONCURRENCY: String(backend.concurrency), LOG_LEVEL: "info" },
  });
  try {
    if (backend.latencyMs > 0) cluster.sim.setFaults({ routes: ["sign"], latencyMs: backend.latencyMs });
    const input = await inputWithPages(pages, cluster.scratch);
    await cluster.stores.get(STORE).write("inbox/input.pdf", [await readFile(input)]);
    const workers = await Promise.all(Array.from({ length: workerCount }, () => cluster.startWorker()));
    // A short warm-up per process, outside the timing: the first documents compile the code paths.
    const submit = (count: number, tag: string) =>
      cluster.client.submitBulk(
        Array.from({ length: count }, (_, index) => ({
          input: { store: STORE, key: "inbox/input.pdf" },
          output: { store: STORE, key: `signed/${tag}-${index}.pdf` },
          signer: backend.signer,
        })),
      );
    const waitFor = async (completed: number) => {
      while ((await cluster.count("completed")) < completed) {
        if ((await cluster.count("failed")) > 0) throw new Error("a benchmark job failed");
        await sleep(20);
      }
    };
    const warmUp = 20 * workerCount;
    await submit(warmUp, "warm");
    await waitFor(warmUp);
    const callsBefore = cluster.sim.usage().signCalls;
    const loadStart = loadavg()[0]!;
    const workerCpuBefore = await sumCpuMs(workers.map((worker) => worker.child.pid!));
    const benchCpuBefore = process.cpuUsage();
    const started = performance.now();
    await submit(JOBS, "run");
    await waitFor(warmUp + JOBS);
    const seconds = (performance.now() - started) / 1000;
    const loadEnd = loadavg()[0]!;
    const workerCpuMs = (await sumCpuMs(workers.map((worker) => worker.child.pid!))) - workerCpuBefore;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const callsAfter = cluster.sim.usage().signCalls;
    for (const worker of workers) worker.child.kill("SIGTERM");
    await Promise.all(workers.map((worker) => worker.exited));
    const { size } = await cluster.stores.get(STORE).stat("inbox/input.pdf");
    return {
      rate: JOBS / seconds,
      workerCpuMs: workerCpuMs / JOBS,
      benchCpuMs: (benchCpu.user + benchCpu.system) / 1000 / JOBS,
      inputBytes: size,
      signCalls: callsAfter - callsBefore,
      loadStart,
      loadEnd,
    };
  } finally {
    await cluster.close();
  }
}

/** utime + stime of processes, ms (Linux /proc; clock ticks are 100 Hz). */
async function sumCpuMs(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
    total += (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return total;
}

const scenarios: Scenario[] = list(values.stores).flatMap((store) =>
  list(values.workers).flatMap((workers) =>
    list(values.pages).flatMap((pages) =>
      list(values.signers).map((name) => ({
        store,
        backend: BACKENDS[name] ?? BACKENDS.local!,
        workers: Number(workers),
        pages: Number(pages),
      })),
    ),
  ),
);

const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT }).toString().trim();
const rows: string[] = [];
for (const scenario of scenarios) {
  const result = await measure(scenario);
  const row = `| ${scenario.store} | ${scenario.backend.label} | ${scenario.pages} (${Math.round(result.inputBytes / 1024)} KB) | ${scenario.workers} | ${scenario.backend.concurrency} | ${JOBS} | **${result.rate.toFixed(1)}** | ${result.workerCpuMs.toFixed(1)} + ${result.benchCpuMs.toFixed(1)} | ${scenario.backend.latencyMs > 0 ? (result.signCalls / JOBS).toFixed(3) : "–"} | ${result.loadStart.toFixed(1)} → ${result.loadEnd.toFixed(1)} |`;
  process.stdout.write(`${row}\n`);
  rows.push(row);
}

const section = [
  "## Signing worker throughput",
  "",
  "Documents per second through the whole job path: `SigningClient.submitBulk` → Redis → worker",
  "processes (the built bundle, `node services/worker/dist/main.js`) → reads from the store",
  "(`s3`: ranged GETs from s3rver over HTTP; `local`: a local-directory store) → prepare, digest,",
  "sign, embed, verify → store write (S3 upload, or temp file + fsync + rename) → events stream, timed from the",
  "submission to the last completion after a warm-up of 20 documents per process. Input:",
  "`chromium-invoice.pdf` (31 KB, 1 page) or its page repeated 50 times (pdf-lib), PAdES B-B,",
  "RSA-2048. The simulator and s3rver run in the benchmark process; the CSC rows add 100 ms to each",
  "sign call and batch hashes (`hashBatching: {maxHashes: 100, maxWaitMs: 200}`, adaptive).",
  "",
  "```sh",
  `pnpm build && pnpm exec tsx bench/worker-throughput.ts --jobs ${JOBS} --workers ${values.workers} --pages ${values.pages} --signers ${values.signers} --stores ${values.stores} --concurrency ${values.concurrency} --csc-concurrency ${values["csc-concurrency"]} --write`,
  "```",
  "",
  `Measured ${new Date().toISOString().slice(0, 16)}Z at commit ${commit} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}; Redis, s3rver, the simulator, the benchmark and the workers share these cores with other engineers' work (1-minute load average at start → end of each row).`,
  "",
  "| store | signer | pages | worker processes | concurrency each | jobs | documents/s | CPU ms per document: workers + s3rver/simulator/client | sign calls per document | load average |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ...rows,
];

if (values.write) {
  process.stdout.write(`updated ${await writeBenchmarksSection("worker-throughput", section)}\n`);
}
