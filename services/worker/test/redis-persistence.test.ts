/**
 * The worker, like the API, tells whether the Redis it uses would keep queued jobs over a restart
 * (a deployment may run workers without the API): the warning in its log and
 * `esign_redis_persistence_enabled` on its own /metrics, at start and at every reconnection.
 * Against redis-servers of the test's own, never the shared one on 6379.
 */
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestRedis, type TestRedis } from "../../../test/support/redis-server";
import type { SigningWorker } from "../src/index";
import { createHarness, type Harness } from "./harness";

let harness: Harness;
const redisServers: TestRedis[] = [];

beforeAll(async () => {
  harness = await createHarness();
});

afterAll(async () => {
  await harness.close();
  await Promise.all(redisServers.map((server) => server.stop()));
});

/** A worker on `redisUrl` serving /metrics on a free port, and the lines it logs. */
async function startWorkerOn(redisUrl: string): Promise<{ worker: SigningWorker; log: string[] }> {
  const log: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      log.push(chunk.toString("utf8"));
      done();
    },
  });
  const worker = await harness.startWorker({ redisUrl, metricsPort: 0 }, pino({ level: "info" }, sink));
  return { worker, log };
}

/** The gauge as served on /metrics, once the check has set it to something other than `unlike`. */
async function servedGauge(worker: SigningWorker, unlike: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const metrics = await (await fetch(`${worker.metricsUrl}/metrics`)).text();
    const value = Number(/^esign_redis_persistence_enabled (-?\d+)$/m.exec(metrics)?.[1]);
    if (value !== unlike) return value;
    await new Promise((done) => setTimeout(done, 50));
  }
  return unlike;
}

it("warns and serves 0 on a Redis without persistence, and 1 once AOF is on and it reconnects", async () => {
  const redis = await startTestRedis();
  redisServers.push(redis);
  const { worker, log } = await startWorkerOn(redis.url);

  expect(await servedGauge(worker, -1)).toBe(0);
  expect(log.join("")).toMatch(/Redis keeps no data over a restart/);

  // Turn AOF on, then cut the worker's connections: the check runs again on reconnection.
  const admin = new Redis(redis.url);
  await admin.config("SET", "appendonly", "yes");
  await admin.client("KILL", "TYPE", "normal", "SKIPME", "yes");
  expect(await servedGauge(worker, 0)).toBe(1);
  expect(log.join("")).toMatch(/append-only file \(AOF\) on/);
  admin.disconnect();
  await harness.stopWorkers();
});

it("serves 1 and does not warn on a Redis started with --appendonly yes", async () => {
  const redis = await startTestRedis(["--appendonly", "yes"]);
  redisServers.push(redis);
  const { worker, log } = await startWorkerOn(redis.url);

  expect(await servedGauge(worker, -1)).toBe(1);
  expect(log.join("")).toMatch(/"msg":"Redis persistence"/);
  expect(log.join("")).not.toMatch(/Redis keeps no data over a restart/);
  await harness.stopWorkers();
});
