/**
 * Interactive signing latency: `POST /v1/sign` with a 1-page PDF (`chromium-invoice.pdf`, 31 KB),
 * answered with the signed PDF, at 1, 10 and 50 concurrent clients each calling again as soon as
 * it has its answer. The API and one worker run as production runs them (the built bundles on
 * plain node), with a local-directory store, a local key (p12 in the worker, PAdES B-B, RSA-2048)
 * and the shared Redis under a private prefix. Reports p50/p95/p99 and documents/s per level.
 *
 *   pnpm build && pnpm exec tsx bench/api-latency.ts [--clients 1,10,50] [--seconds 20]
 *        [--worker-concurrency 16] [--cpu-prof DIR] [--api-bundle PATH] [--client http|fetch] [--write]
 *
 * The clients call with node:http on keep-alive connections (`--client fetch`: the global fetch,
 * as the figures before 2026-12-05T21:00Z were taken). They share the cores with the API and the
 * worker, and fetch costs about three times node:http's CPU per call (1.1-2.0 ms against 0.3-0.7 ms
 * measured beside a trivial server), time a client elsewhere would not take from the service.
 * `--api-bundle PATH` runs another build of the API (an earlier commit's) in the same harness, for
 * before/after runs interleaved under the same load.
 * `--cpu-prof DIR` profiles the API and the worker (`node --cpu-prof`, written when they stop).
 * Each level also reports the CPU time per call of the API, the worker and this process (the
 * clients), from /proc: on a shared machine the steadier figure beside the latencies.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { freePort } from "@esign/runtime";
import { REPO_ROOT } from "@esign/testkit";
import {
  LOCAL_P12_PASSWORD,
  makeLocalP12,
  REDIS_URL,
  SMALL_PDF,
  WORKER_BUNDLE,
} from "../test/worker-cluster";
import { writeBenchmarksSection } from "./benchmarks-doc";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1,10,50" },
    seconds: { type: "string", default: "20" },
    "worker-concurrency": { type: "string", default: "16" },
    "cpu-prof": { type: "string" },
    "api-bundle": { type: "string" },
    client: { type: "string", default: "http" },
    write: { type: "boolean", default: false },
  },
});
if (values.client !== "http" && values.client !== "fetch") throw new Error("--client is http or fetch");
const API_BUNDLE = values["api-bundle"] ?? join(REPO_ROOT, "services/api/dist/main.js");
const DEV_KEY = `bench-${randomUUID()}`;
const SECONDS = Number(values.seconds);
const profiling = values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", values["cpu-prof"]] : [];

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * fraction) - 1)]!;
}

interface Level {
  clients: number;
  calls: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  /** CPU milliseconds per call: API, worker, this process (the clients). */
  cpuMsPerCall: { api: number; worker: number; clients: number };
  loadStart: number;
  loadEnd: number;
}

/** User + system CPU milliseconds a child has used so far (/proc/PID/stat, fields 14 and 15). */
function cpuMsOf(child: ChildProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}
const CLOCK_TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const scratch = await mkdtemp(join(tmpdir(), "esign-bench-api-"));
const prefix = `{esign-bench-api-${randomUUID().slice(0, 8)}}`;
const stores = JSON.stringify({ default: { type: "local", root: join(scratch, "objects") } });
const children: ChildProcess[] = [];
const DELETE_PREFIX = `for _, key in ipairs(redis.call("KEYS", ARGV[1])) do redis.call("DEL", key) end`;

try {
  const p12 = await makeLocalP12(scratch);
  const common = { ...process.env, REDIS_URL, ESIGN_QUEUE_PREFIX: prefix, ESIGN_STORES: stores };
  const worker = spawn(process.execPath, [...profiling, WORKER_BUNDLE], {
    cwd: REPO_ROOT,
    env: {
      ...common,
      ESIGN_SIGNERS: JSON.stringify({
        default: { type: "p12", p12Path: p12, password: { env: "LOCAL_P12_PASSWORD" } },
      }),
      LOCAL_P12_PASSWORD,
      WORKER_CONCURRENCY: values["worker-concurrency"],
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(worker);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: worker.stdout! }).on("line", (line) => {
      if (line.includes('"signing worker started"')) resolve();
    });
    worker.once("exit", (code) => reject(new Error(`worker exited (${code}) before starting`)));
  });

  const port = await freePort();
  const api = spawn(process.execPath, [...profiling, API_BUNDLE], {
    cwd: REPO_ROOT,
    env: {
      ...common,
      PORT: String(port),
      HOST: "127.0.0.1",
      ESIGN_DATA_DIR: join(scratch, "data"),
      ESIGN_DEV_API_KEY: DEV_KEY,
      RATE_LIMIT_PER_MINUTE: "100000000",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(api);
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    if (
      await fetch(`${base}/healthz`).then(
        (answer) => answer.ok,
        () => false,
      )
    )
      break;
    if (tries > 600 || api.exitCode !== null) throw new Error("the API did not start");
    await sleep(100);
  }

  const pdf = await readFile(SMALL_PDF);
  const headers = { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/pdf" };
  const agent = new Agent({ keepAlive: true });
  /** The answer's status and whole body. */
  const post: () => Promise<{ status: number; body: Buffer }> =
    values.client === "fetch"
      ? async () => {
          const response = await fetch(`${base}/v1/sign`, { method: "POST", headers, body: pdf });
          return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
        }
      : () =>
          new Promise((resolve, reject) => {
            const call = request(
              `${base}/v1/sign`,
              { method: "POST", agent, headers: { ...headers, "content-length": pdf.length } },
              (response) => {
                const chunks: Buffer[] = [];
                response.on("data", (chunk: Buffer) => chunks.push(chunk));
                response.on("end", () =>
                  resolve({ status: response.statusCode!, body: Buffer.concat(chunks) }),
                );
                response.on("error", reject);
              },
            );
            call.on("error", reject);
            call.end(pdf);
          });
  const signOnce = async (): Promise<number> => {
    const started = performance.now();
    const { status, body } = await post();
    if (status !== 200) throw new Error(`POST /v1/sign answered ${status}: ${body.toString()}`);
    return performance.now() - started;
  };

  // Warm-up: the first documents compile the code paths of both processes.
  for (let call = 0; call < 20; call++) await signOnce();
  await Promise.all(Array.from({ length: 10 }, () => signOnce()));

  const levels: Level[] = [];
  for (const clients of values.clients.split(",").map(Number)) {
    const latencies: number[] = [];
    const loadStart = loadavg()[0]!;
    const cpuStart = { api: cpuMsOf(api), worker: cpuMsOf(worker), clients: ownCpuMs() };
    const started = performance.now();
    const until = started + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < until) latencies.push(await signOnce());
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const sorted = latencies.sort((a, b) => a - b);
    const perCall = (used: number) => Number((used / sorted.length).toFixed(2));
    const level: Level = {
      clients,
      calls: sorted.length,
      perSecond: sorted.length / elapsed,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      cpuMsPerCall: {
        api: perCall(cpuMsOf(api) - cpuStart.api),
        worker: perCall(cpuMsOf(worker) - cpuStart.worker),
        clients: perCall(ownCpuMs() - cpuStart.clients),
      },
      loadStart,
      loadEnd: loadavg()[0]!,
    };
    levels.push(level);
    process.stdout.write(`${JSON.stringify(level)}\n`);
  }

  agent.destroy();
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT }).toString().trim();
  const section = [
    "## Interactive signing latency",
    "",
    "`POST /v1/sign` with `chromium-invoice.pdf` (31 KB, 1 page), the signed PDF in the answer, by",
    `N clients (${values.client === "fetch" ? "fetch" : "node:http, keep-alive"}) each calling again as soon as it has its answer, for a fixed time per level after a`,
    "warm-up. API and one worker are the built bundles on plain node; local-directory store; local",
    `key (p12 in the worker), PAdES B-B, RSA-2048; worker concurrency ${values["worker-concurrency"]}; Redis shared.`,
    "",
    "```sh",
    `pnpm build && pnpm exec tsx bench/api-latency.ts --clients ${values.clients} --seconds ${SECONDS}${values.client === "fetch" ? " --client fetch" : ""} --write`,
    "```",
    "",
    `Measured ${new Date().toISOString().slice(0, 16)}Z at commit ${commit} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}; the client, the API, the worker and Redis share these cores with other engineers' work (1-minute load average at start → end of each level).`,
    "",
    "| concurrent clients | calls | documents/s | p50 ms | p95 ms | p99 ms | CPU ms per call: API / worker / clients | load average |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...levels.map(
      ({ cpuMsPerCall: cpu, ...level }) =>
        `| ${level.clients} | ${level.calls} | ${level.perSecond.toFixed(1)} | ${level.p50.toFixed(0)} | **${level.p95.toFixed(0)}** | ${level.p99.toFixed(0)} | ${cpu.api} / ${cpu.worker} / ${cpu.clients} | ${level.loadStart.toFixed(1)} → ${level.loadEnd.toFixed(1)} |`,
    ),
  ];
  if (values.write) process.stdout.write(`updated ${await writeBenchmarksSection("api-latency", section)}\n`);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(
    children.map((child) =>
      child.exitCode === null ? new Promise((resolve) => child.once("exit", resolve)) : undefined,
    ),
  );
  // The run's keys only (redis-cli: this package has no Redis client of its own).
  execFileSync("redis-cli", ["-u", REDIS_URL, "eval", DELETE_PREFIX, "0", `${prefix}*`]);
  await rm(scratch, { recursive: true, force: true });
}
