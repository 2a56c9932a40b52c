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
 *        [--pages 1,50] [--signers local,csc] [--concurrency 16] [--warmup 20] [--cpu-prof DIR] [--write]
 *
 * `--cpu-prof DIR` starts the workers with `node --cpu-prof --cpu-prof-dir DIR` (one .cpuprofile
 * per worker process, written when it drains). `--worker-env NAME=value,...` adds to the workers'
 * environment (for A/B runs). Under each row a second line says where the CPU went, per document:
 * the workers (user + kernel), redis-server (INFO cpu, its commands from INFO commandstats), the
 * whole machine (/proc/stat) and so the other processes on it, and how idle the cores were. `--write` replaces the worker-throughput section
 * of docs/benchmarks.md (other sections stay).
 */
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "@esign/testkit";
import type { Redis } from "ioredis";
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
    /**
     * Documents per worker process run before the timed window and left out of its rate (the
     * first ones compile the code paths: a short run is dominated by them). Their own figures are
     * printed beside the timed ones, and so are those of the whole run.
     */
    warmup: { type: "string", default: "20" },
    "cpu-prof": { type: "string" },
    /** Extra environment for the workers, `NAME=value,...` (e.g. `UV_THREADPOOL_SIZE=8`, or an A/B `LD_PRELOAD`). */
    "worker-env": { type: "string", default: "" },
    tsx: { type: "boolean", default: false },
    bundle: { type: "string", default: WORKER_BUNDLE },
    write: { type: "boolean", default: false },
  },
});
const JOBS = Number(values.jobs);
const WARMUP_PER_WORKER = Number(values.warmup);
const STORE_NAMES: Record<string, string> = { s3: "default", local: "local" };
const list = (text: string) => text.split(",").map((item) => item.trim());
const EXTRA_WORKER_ENV = Object.fromEntries(
  list(values["worker-env"])
    .filter((pair) => pair.includes("="))
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
);

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

/** Documents, seconds and worker CPU of one part of a run. */
interface Phase {
  documents: number;
  seconds: number;
  workerCpuMs: number;
}

interface Measured {
  /** The warm-up before the timed window, left out of everything else here. */
  warmUp: Phase;
  rate: number;
  /** CPU time of the worker processes per document, ms (user + system, from /proc). */
  workerCpuMs: number;
  /** The part of `workerCpuMs` spent in the kernel. */
  workerSystemMs: number;
  /**
   * read- and write-family system calls of the worker processes per document (/proc/PID/io: files,
   * sockets, event-loop wake-ups): unlike CPU time, a count the neighbours' load does not move.
   */
  workerSyscalls: { reads: number; writes: number };
  /** CPU time of this process (s3rver, the simulator, the client) per document, ms. */
  benchCpuMs: number;
  inputBytes: number;
  signCalls: number;
  loadStart: number;
  loadEnd: number;
  /** Where the bound is: CPU of redis-server per document, its commands, and the machine's idle share. */
  redis: { cpuMs: number; commands: number; usec: number; top: string };
  /** Share of all cores idle (idle + iowait, /proc/stat) over the timed run: 0 = saturated. */
  idleShare: number;
  /** CPU time of the whole machine per document, ms: ours plus whatever else ran meanwhile. */
  machineBusyMs: number;
}

async function measure({ store, backend, workers: workerCount, pages }: Scenario): Promise<Measured> {
  const STORE = STORE_NAMES[store] ?? "default";
  const cluster = await startCluster({
    workerBundle: values.tsx ? undefined : values.bundle,
    nodeArgs: values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", values["cpu-prof"]] : [],
    workerEnv: { WORKER_CONCURRENCY: String(backend.concurrency), LOG_LEVEL: "info", ...EXTRA_WORKER_ENV },
  });
  try {
    if (backend.latencyMs > 0) cluster.sim.setFaults({ routes: ["sign"], latencyMs: backend.latencyMs });
    const input = await inputWithPages(pages, cluster.scratch);
    await cluster.stores.get(STORE).write("inbox/input.pdf", [await readFile(input)]);
    const workers = await Promise.all(Array.from({ length: workerCount }, () => cluster.startWorker()));
    // A warm-up per process (`--warmup`), outside the timing: the first documents compile the code paths.
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
    const warmUp = WARMUP_PER_WORKER * workerCount;
    const workerPids = workers.map((worker) => worker.child.pid!);
    const warmUpCpuBefore = await sumCpuSplitMs(workerPids);
    const warmUpStarted = performance.now();
    await submit(warmUp, "warm");
    await waitFor(warmUp);
    const warmUpSeconds = (performance.now() - warmUpStarted) / 1000;
    const callsBefore = cluster.sim.usage().signCalls;
    const loadStart = loadavg()[0]!;
    const workerCpuBefore = await sumCpuSplitMs(workerPids);
    const syscallsBefore = await sumSyscalls(workerPids);
    const benchCpuBefore = process.cpuUsage();
    const redisBefore = await redisStats(cluster.redis);
    const machineBefore = await machineTicks();
    const started = performance.now();
    await submit(JOBS, "run");
    await waitFor(warmUp + JOBS);
    const seconds = (performance.now() - started) / 1000;
    const loadEnd = loadavg()[0]!;
    const machineAfter = await machineTicks();
    const redisAfter = await redisStats(cluster.redis);
    const workerCpuAfter = await sumCpuSplitMs(workerPids);
    const syscallsAfter = await sumSyscalls(workerPids);
    const workerSystemMs = workerCpuAfter.system - workerCpuBefore.system;
    const workerCpuMs = workerCpuAfter.user + workerSystemMs - workerCpuBefore.user;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const callsAfter = cluster.sim.usage().signCalls;
    for (const worker of workers) worker.child.kill("SIGTERM");
    await Promise.all(workers.map((worker) => worker.exited));
    const { size } = await cluster.stores.get(STORE).stat("inbox/input.pdf");
    return {
      warmUp: {
        documents: warmUp,
        seconds: warmUpSeconds,
        workerCpuMs:
          workerCpuBefore.user + workerCpuBefore.system - warmUpCpuBefore.user - warmUpCpuBefore.system,
      },
      rate: JOBS / seconds,
      workerCpuMs: workerCpuMs / JOBS,
      workerSystemMs: workerSystemMs / JOBS,
      workerSyscalls: {
        reads: (syscallsAfter.reads - syscallsBefore.reads) / JOBS,
        writes: (syscallsAfter.writes - syscallsBefore.writes) / JOBS,
      },
      benchCpuMs: (benchCpu.user + benchCpu.system) / 1000 / JOBS,
      inputBytes: size,
      signCalls: callsAfter - callsBefore,
      loadStart,
      loadEnd,
      redis: redisPerDocument(redisBefore, redisAfter),
      idleShare: (machineAfter.idle - machineBefore.idle) / (machineAfter.total - machineBefore.total),
      machineBusyMs:
        ((machineAfter.total - machineBefore.total - (machineAfter.idle - machineBefore.idle)) * 10) / JOBS,
    };
  } finally {
    await cluster.close();
  }
}

/** utime and stime of processes, ms (Linux /proc; clock ticks are 100 Hz): the kernel's part apart. */
async function sumCpuSplitMs(pids: number[]): Promise<{ user: number; system: number }> {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
    user += Number(fields[11]) * 10;
    system += Number(fields[12]) * 10;
  }
  return { user, system };
}

/** read- and write-family system calls made so far by processes (syscr, syscw of /proc/PID/io). */
async function sumSyscalls(pids: number[]): Promise<{ reads: number; writes: number }> {
  let reads = 0;
  let writes = 0;
  for (const pid of pids) {
    const io = await readFile(`/proc/${pid}/io`, "utf8");
    reads += Number(/^syscr: (\d+)/m.exec(io)?.[1] ?? 0);
    writes += Number(/^syscw: (\d+)/m.exec(io)?.[1] ?? 0);
  }
  return { reads, writes };
}

interface RedisStats {
  cpuMs: number;
  /** Per command: calls and microseconds spent executing it (INFO commandstats). */
  commands: Map<string, { calls: number; usec: number }>;
}

/**
 * Redis's own CPU (INFO cpu) and per-command counters (INFO commandstats). The server is shared with
 * the other engineers' tests, so the difference over a run is an upper bound for this run's share.
 */
async function redisStats(redis: Redis): Promise<RedisStats> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  const commands = new Map<string, { calls: number; usec: number }>();
  for (const match of (await redis.info("commandstats")).matchAll(
    /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm,
  )) {
    commands.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return { cpuMs: (field("used_cpu_user") + field("used_cpu_sys")) * 1000, commands };
}

function redisPerDocument(before: RedisStats, after: RedisStats): Measured["redis"] {
  const deltas = [...after.commands].map(([name, { calls, usec }]) => {
    const earlier = before.commands.get(name) ?? { calls: 0, usec: 0 };
    return { name, calls: calls - earlier.calls, usec: usec - earlier.usec };
  });
  const top = deltas
    .sort((a, b) => b.usec - a.usec)
    .slice(0, 4)
    .map(
      ({ name, calls, usec }) =>
        `${name} ${(calls / JOBS).toFixed(1)}× ${(usec / JOBS / 1000).toFixed(2)} ms`,
    )
    .join(", ");
  const sum = (key: "calls" | "usec") => deltas.reduce((total, each) => total + each[key], 0);
  return {
    cpuMs: (after.cpuMs - before.cpuMs) / JOBS,
    commands: sum("calls") / JOBS,
    usec: sum("usec") / JOBS,
    top,
  };
}

/** Idle (idle + iowait) and total clock ticks (100 Hz) summed over all cores, /proc/stat. */
async function machineTicks(): Promise<{ idle: number; total: number }> {
  const ticks = (await readFile("/proc/stat", "utf8")).split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  return { idle: ticks[3]! + ticks[4]!, total: ticks.reduce((sum, each) => sum + each, 0) };
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
  const { redis, warmUp } = result;
  process.stdout.write(
    `  workers ${result.workerCpuMs.toFixed(2)} ms CPU (${result.workerSystemMs.toFixed(2)} in the kernel), ${result.workerSyscalls.reads.toFixed(1)} read and ${result.workerSyscalls.writes.toFixed(1)} write system calls; redis-server ${redis.cpuMs.toFixed(2)} ms CPU, ${redis.commands.toFixed(1)} commands (${(redis.usec / 1000).toFixed(2)} ms executing: ${redis.top}) per document; whole machine ${result.machineBusyMs.toFixed(1)} ms CPU per document, of which other processes ${(result.machineBusyMs - result.workerCpuMs - result.benchCpuMs - redis.cpuMs).toFixed(1)}; cores ${(result.idleShare * 100).toFixed(0)} % idle\n`,
  );
  const wholeSeconds = warmUp.seconds + JOBS / result.rate;
  const wholeDocuments = warmUp.documents + JOBS;
  process.stdout.write(
    `  left out above: warm-up of ${warmUp.documents} documents (${WARMUP_PER_WORKER} per process), ${(warmUp.documents / warmUp.seconds).toFixed(1)} docs/s, workers ${(warmUp.workerCpuMs / warmUp.documents).toFixed(2)} ms CPU per document; whole run (warm-up + timed): ${(wholeDocuments / wholeSeconds).toFixed(1)} docs/s, workers ${((warmUp.workerCpuMs + result.workerCpuMs * JOBS) / wholeDocuments).toFixed(2)} ms CPU per document\n`,
  );
  rows.push(row);
}

const section = [
  "## Signing worker throughput",
  "",
  "Documents per second through the whole job path: `SigningClient.submitBulk` → Redis → worker",
  "processes (the built bundle, `node services/worker/dist/main.js`) → reads from the store",
  "(`s3`: ranged GETs from s3rver over HTTP; `local`: a local-directory store) → prepare, digest,",
  "sign, embed, verify → store write (S3 upload, or temp file + fsync + rename) → events stream, timed from the",
  `submission to the last completion after a warm-up of ${WARMUP_PER_WORKER} documents per process (\`--warmup\`, left out of the rate). Input:`,
  "`chromium-invoice.pdf` (31 KB, 1 page) or its page repeated 50 times (pdf-lib), PAdES B-B,",
  "RSA-2048. The simulator and s3rver run in the benchmark process; the CSC rows add 100 ms to each",
  "sign call and batch hashes (`hashBatching: {maxHashes: 100, maxWaitMs: 200}`, adaptive).",
  "",
  "```sh",
  `pnpm build && pnpm exec tsx bench/worker-throughput.ts --jobs ${JOBS} --warmup ${WARMUP_PER_WORKER} --workers ${values.workers} --pages ${values.pages} --signers ${values.signers} --stores ${values.stores} --concurrency ${values.concurrency} --csc-concurrency ${values["csc-concurrency"]} --write`,
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
