/**
 * Redis outages, against the agent as a user starts it (`pnpm start`) on a redis-server of the
 * test's own, which the test stops (SIGSTOP: connections accepted, nothing answers), kills and
 * restarts: the API answers 503 E_UNAVAILABLE and /readyz 503 within 2 s instead of hanging; a
 * submission its client was told failed is not enqueued when Redis wakes up; the worker and the
 * notifier carry on by themselves once Redis is back. Also: the start-up warning and metric for a
 * Redis without persistence.
 */
import { copyFile, mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { QUEUES } from "@esign/jobs";
import { SAMPLES_DIR } from "@esign/testkit";
import { Queue } from "bullmq";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";
import { startTestRedis, type TestRedis } from "./support/redis-server";

/** The bound the API promises while Redis is unreachable. */
const BOUND_MS = 2000;
const INPUT_KEY = "outage/in.pdf";

let redis: TestRedis;
let agent: RunningAgent;
let receiver: Server;
let receiverUrl: string;
const webhookJobIds: string[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      webhookJobIds.push((JSON.parse(body) as { data: { jobId: string } }).data.jobId);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  agent = await startAllInOne({
    REDIS_URL: redis.url,
    WEBHOOK_ALLOW_CIDRS: "127.0.0.0/8",
    LOG_LEVEL: "warn",
  });
  await mkdir(join(agent.dataDir, "objects", "outage"), { recursive: true });
  await copyFile(join(SAMPLES_DIR, "chromium-invoice.pdf"), join(agent.dataDir, "objects", INPUT_KEY));
}, 180_000);

afterAll(async () => {
  agent?.stop();
  await redis?.stop();
  await new Promise((done) => receiver?.close(done));
});

const submit = (idempotencyKey?: string) =>
  fetch(`${agent.base}/v1/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${agent.devKey}`, "content-type": "application/json" },
    body: JSON.stringify({
      input: { store: "default", key: INPUT_KEY },
      output: { store: "default", key: `outage/signed-${idempotencyKey ?? Date.now()}.pdf` },
      callback: { url: receiverUrl },
      ...(idempotencyKey && { idempotencyKey }),
    }),
    signal: AbortSignal.timeout(30_000),
  });

/** The response and how long it took. */
async function timed(call: () => Promise<Response>): Promise<{ response: Response; ms: number }> {
  const started = performance.now();
  const response = await call();
  return { response, ms: performance.now() - started };
}

async function expectUnavailableWithinBound(): Promise<void> {
  for (const key of [undefined, `outage-${Date.now()}`]) {
    const { response, ms } = await timed(() => submit(key));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "E_UNAVAILABLE", permanent: false } });
    expect(ms).toBeLessThan(BOUND_MS);
  }
  const ready = await timed(() => fetch(`${agent.base}/readyz`, { signal: AbortSignal.timeout(30_000) }));
  expect(ready.response.status).toBe(503);
  expect(((await ready.response.json()) as { checks: { redis: string } }).checks.redis).not.toBe("ok");
  expect(ready.ms).toBeLessThan(BOUND_MS);
}

/** Submits once Redis answers again, and waits until the job is signed and its webhook delivered. */
async function signsAndNotifies(): Promise<void> {
  let accepted: Response | undefined;
  for (let i = 0; i < 100; i++) {
    accepted = await submit();
    if (accepted.status === 202) break;
    await new Promise((done) => setTimeout(done, 200));
  }
  expect(accepted!.status).toBe(202);
  const { id } = (await accepted!.json()) as { id: string };
  let state = "";
  for (let i = 0; i < 300 && state !== "completed" && state !== "failed"; i++) {
    await new Promise((done) => setTimeout(done, 200));
    const status = await fetch(`${agent.base}/v1/jobs/${id}`, {
      headers: { authorization: `Bearer ${agent.devKey}` },
    });
    state = status.ok ? ((await status.json()) as { state: string }).state : "";
  }
  expect(state).toBe("completed");
  for (let i = 0; i < 300 && !webhookJobIds.includes(id); i++)
    await new Promise((done) => setTimeout(done, 100));
  expect(webhookJobIds).toContain(id);
}

it("warns at start and exposes a metric when Redis keeps no data over a restart", async () => {
  expect(agent.output()).toMatch(/Redis keeps no data over a restart/);
  const metrics = await (await fetch(`${agent.base}/metrics`)).text();
  expect(metrics).toMatch(/^esign_redis_persistence_enabled 0$/m);
});

it("answers 503 within 2 s while Redis is stopped, enqueues nothing it refused, and resumes", async () => {
  await signsAndNotifies();
  const queue = new Queue(QUEUES.sign, {
    connection: { host: "127.0.0.1", port: redis.port },
    prefix: agent.queuePrefix,
  });
  const before = await queue.count();
  const jobsBefore = (await queue.getJobs(["completed", "failed", "waiting", "active", "delayed"])).length;
  await queue.close();

  redis.pause();
  try {
    await expectUnavailableWithinBound();
  } finally {
    redis.resume();
  }
  // Whatever reached the stopped Redis would run now: give it time, then count.
  await new Promise((done) => setTimeout(done, 3000));
  const after = new Queue(QUEUES.sign, {
    connection: { host: "127.0.0.1", port: redis.port },
    prefix: agent.queuePrefix,
  });
  expect(await after.count()).toBe(before);
  expect((await after.getJobs(["completed", "failed", "waiting", "active", "delayed"])).length).toBe(
    jobsBefore,
  );
  await after.close();

  await signsAndNotifies();
}, 180_000);

it("answers 503 within 2 s while Redis is down, and resumes on a restarted Redis", async () => {
  await redis.kill();
  await expectUnavailableWithinBound();
  await redis.restart();
  await signsAndNotifies();
}, 180_000);
