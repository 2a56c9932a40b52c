/**
 * BoundedRedis on a redis-server of the test's own that it stops (SIGSTOP) and resumes: a job
 * submission, a bulk submission or a batch sent to the stopped Redis fails E_UNAVAILABLE within the
 * command timeout and is not enqueued when Redis wakes up and runs it (each carries a deadline in
 * Redis's clock); then the same connection serves again. A plain connection shows that a command given up on
 * does run late, which is why the deadline is needed.
 */
import { EsignError } from "@esign/errors";
import { BATCH_QUEUE, BatchClient, BoundedRedis, QUEUES, redisPersistence, SigningClient } from "@esign/jobs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestRedis, type TestRedis } from "./support/redis-server";

const COMMAND_TIMEOUT_MS = 500;
const prefix = "{bounded-test}";
const job = (key: string) => ({ input: { store: "default", key }, signer: "default" });

let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis?.stop());

async function jobCount(queueName: string = QUEUES.sign): Promise<number> {
  const queue = new Queue(queueName, { connection: { host: "127.0.0.1", port: redis.port }, prefix });
  const count = await queue.count();
  await queue.close();
  return count;
}

it("fails a submission to a stopped Redis fast and never enqueues it later", async () => {
  const connection = new BoundedRedis(redis.url, { commandTimeoutMs: COMMAND_TIMEOUT_MS });
  connection.on("error", () => undefined);
  const client = new SigningClient({ connection, prefix });
  await client.submit(job("before.pdf"));
  expect(await jobCount()).toBe(1);

  redis.pause();
  const started = performance.now();
  const error = await client.submit(job("during.pdf")).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  const elapsed = performance.now() - started;
  // At once now: the connection was reset and is not back yet.
  const second = await client.submit(job("during-2.pdf")).catch((thrown: unknown) => thrown);
  redis.resume();

  expect(error).toBeInstanceOf(EsignError);
  expect((error as EsignError).code).toBe("E_UNAVAILABLE");
  expect(elapsed).toBeLessThan(COMMAND_TIMEOUT_MS + 500);
  expect((second as EsignError).code).toBe("E_UNAVAILABLE");
  await new Promise((done) => setTimeout(done, 1500));
  expect(await jobCount()).toBe(1);

  // Back by itself.
  let resubmitted = false;
  for (let i = 0; i < 50 && !resubmitted; i++) {
    resubmitted = await client.submit(job("after.pdf")).then(
      () => true,
      () => new Promise<boolean>((done) => setTimeout(() => done(false), 100)),
    );
  }
  expect(resubmitted).toBe(true);
  expect(await jobCount()).toBe(2);
  // The deadline does not get in the way of idempotency keys: the same key is one job.
  const first = await client.submit({ ...job("keyed.pdf"), idempotencyKey: "invoice-1" });
  const again = await client.submit({ ...job("keyed.pdf"), idempotencyKey: "invoice-1" });
  expect(again.id).toBe(first.id);
  expect(await jobCount()).toBe(3);
  await client.close();
  connection.disconnect();
});

/** Stops Redis, runs `submit`, resumes Redis and lets it run what it had received; returns the error. */
async function submitWhileStopped(submit: () => Promise<unknown>): Promise<unknown> {
  redis.pause();
  const error = await submit().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  redis.resume();
  await new Promise((done) => setTimeout(done, 1500));
  return error;
}

async function keysNaming(text: string): Promise<string[]> {
  const reader = new Redis(redis.url);
  const keys = await reader.keys(`*${text}*`);
  reader.disconnect();
  return keys;
}

it("fails a bulk submission to a stopped Redis and never enqueues any of it later", async () => {
  const connection = new BoundedRedis(redis.url, { commandTimeoutMs: COMMAND_TIMEOUT_MS });
  connection.on("error", () => undefined);
  await connection.connected(5_000);
  const client = new SigningClient({ connection, prefix });
  const before = await jobCount(QUEUES.batch);
  // Control: within the deadline the bulk is enqueued, idempotency keys included.
  await client.submitBulk([job("bulk-1.pdf"), { ...job("bulk-2.pdf"), idempotencyKey: "bulk-key-1" }]);
  expect(await jobCount(QUEUES.batch)).toBe(before + 2);

  // No idempotency keys: with them the bulk first reads, and the stall would stop it there.
  const error = await submitWhileStopped(() =>
    client.submitBulk([job("late-1.pdf"), job("late-2.pdf"), job("late-3.pdf")]),
  );
  expect((error as EsignError).code).toBe("E_UNAVAILABLE");
  expect(await jobCount(QUEUES.batch)).toBe(before + 2);
  await client.close();
  connection.disconnect();
});

it("fails a batch sent to a stopped Redis and never starts it later", async () => {
  const connection = new BoundedRedis(redis.url, { commandTimeoutMs: COMMAND_TIMEOUT_MS });
  connection.on("error", () => undefined);
  await connection.connected(5_000);
  const batches = new BatchClient({ connection, prefix });
  const submission = { itemsManifest: { store: "default", key: "lists/tonight.jsonl" }, tenant: "acme" };
  // Control: within the deadline the batch record (the parent job) and its expanding job exist.
  const { id: started } = await batches.create(submission, { id: "batch-in-time" });
  expect((await batches.get(started)).state).toBe("submitting");
  expect(await jobCount(BATCH_QUEUE)).toBeGreaterThan(0);
  const coordinationBefore = await jobCount(BATCH_QUEUE);

  const error = await submitWhileStopped(() => batches.create(submission, { id: "batch-refused" }));
  expect((error as EsignError).code).toBe("E_UNAVAILABLE");
  await expect(batches.get("batch-refused")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  expect(await jobCount(BATCH_QUEUE)).toBe(coordinationBefore);
  expect(await keysNaming("batch-refused")).toEqual([]);
  await batches.close();
  connection.disconnect();
});

it("(contrast) a command a plain connection gave up on still runs when Redis wakes up", async () => {
  const plain = new Redis(redis.url, { commandTimeout: COMMAND_TIMEOUT_MS });
  await plain.ping();
  redis.pause();
  await expect(plain.set("late-write", "1")).rejects.toThrow(/timed out/);
  plain.disconnect();
  redis.resume();
  const reader = new Redis(redis.url);
  await new Promise((done) => setTimeout(done, 500));
  expect(await reader.get("late-write")).toBe("1");
  reader.disconnect();
});

it("tells whether Redis persists its data", async () => {
  const reader = new Redis(redis.url);
  expect(await redisPersistence(reader)).toMatchObject({ persistent: false });
  await reader.config("SET", "appendonly", "yes");
  expect(await redisPersistence(reader)).toMatchObject({ persistent: true });
  await reader.config("SET", "appendonly", "no");
  await reader.config("SET", "save", "900 1");
  expect(await redisPersistence(reader)).toMatchObject({ persistent: true });
  await reader.config("SET", "save", "");
  reader.disconnect();
});

it("cannot tell whether Redis persists when CONFIG is disabled and AOF is off", async () => {
  const managed = await startTestRedis(["--rename-command", "CONFIG", ""]);
  const reader = new Redis(managed.url);
  const persistence = await redisPersistence(reader);
  expect(persistence.persistent).toBeUndefined();
  expect(persistence.detail).toMatch(/RDB save points unknown/);
  reader.disconnect();
  await managed.stop();
});
