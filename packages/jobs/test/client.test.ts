import { randomBytes } from "node:crypto";
import { EsignError } from "@esign/errors";
import { Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type CompletedNotice,
  eventsStreamKey,
  type FailedNotice,
  failureReason,
  type JobEvent,
  parseJobEventEntry,
  publishJobEvent,
  QUEUES,
  SIGNING_QUEUES,
  SigningClient,
  type SigningQueueName,
  type SignJob,
} from "../src";
import { signJob, signResult } from "./fixtures";

const connection = { host: "127.0.0.1", port: 6379 };
/** A fresh hash-tagged prefix per run: parallel runs and earlier crashes cannot interfere. */
const prefix = `{esign-test-${randomBytes(6).toString("hex")}}`;

let client: SigningClient;
const workers: Worker[] = [];

/** A real BullMQ worker with a trivial processor, standing in for services/worker. */
function startWorker(
  queue: SigningQueueName,
  processor: (job: SignJob, id: string) => Promise<unknown>,
): Worker {
  const worker = new Worker(queue, (job) => processor(job.data as SignJob, job.id!), { connection, prefix });
  workers.push(worker);
  return worker;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<EsignError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(EsignError);
  expect((error as EsignError).code).toBe(code);
  return error as EsignError;
}

beforeAll(() => {
  client = new SigningClient({ connection, prefix });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.close()));
});

afterAll(async () => {
  await client.close();
  for (const name of SIGNING_QUEUES) {
    const queue = new Queue(name, { connection, prefix });
    await queue.obliterate({ force: true });
    await queue.close();
  }
  const redis = new Redis(connection);
  await redis.del(eventsStreamKey(prefix));
  await redis.quit();
});

describe("SigningClient", () => {
  it("validates before enqueueing and reports zod's issues", async () => {
    const error = await expectCode(
      client.submit(signJob({ input: { store: "default", key: "../secret.pdf" } })),
      "E_INVALID_JOB",
    );
    expect(error.message).toMatch(/input\.key/);
    expect(error).toHaveProperty("issues");
  });

  it("submits a job and reads it back", async () => {
    const { id, queue } = await client.submit(signJob({ metadata: { invoice: "INV-1" } }));
    expect(queue).toBe(QUEUES.sign);
    const status = await client.get(id);
    expect(status).toMatchObject({ id, queue: QUEUES.sign, state: "waiting", attempts: 0 });
    expect(status.job).toMatchObject({
      schemaVersion: 1,
      output: { store: "default", key: "signed/in/contract.pdf" },
      metadata: { invoice: "INV-1" },
    });
    await expectCode(client.get("no-such-job"), "E_NOT_FOUND");
  });

  it("with a tenant's policy, signs a job without output into the tenant's area and refuses others", async () => {
    const policy = { stores: { default: ["acme/"] } };
    const input = { store: "default", key: "acme/in/contract.pdf" };
    const { id } = await client.submit(signJob({ input }), { policy });
    expect((await client.get(id)).job.output).toEqual({
      store: "default",
      key: "acme/signed/in/contract.pdf",
    });
    // On the sign queue: the bulk test below counts the batch queue.
    const [bulk] = await client.submitBulk([signJob({ input })], { policy, queue: QUEUES.sign });
    expect((await client.get(bulk!.id)).job.output).toEqual({
      store: "default",
      key: "acme/signed/in/contract.pdf",
    });
    await expectCode(
      client.submit(signJob({ input, output: { store: "default", key: "other/out.pdf" } }), { policy }),
      "E_FORBIDDEN",
    );
    await expectCode(client.submitBulk([signJob()], { policy, queue: QUEUES.sign }), "E_FORBIDDEN");
  });

  it("collapses duplicate submissions with the same idempotency key into one job", async () => {
    const first = await client.submit(signJob({ idempotencyKey: "invoice-dup-1" }));
    const second = await client.submit(signJob({ idempotencyKey: "invoice-dup-1", level: "B-T" }));
    expect(first.id).toBe("invoice-dup-1");
    expect(second.id).toBe("invoice-dup-1");
    const queue = new Queue(QUEUES.sign, { connection, prefix });
    const jobs = await queue.getJobs(["waiting"]);
    expect(jobs.filter((job) => job.data.idempotencyKey === "invoice-dup-1")).toHaveLength(1);
    // The first submission wins: the retained job is not silently replaced.
    expect((await client.get("invoice-dup-1")).job.level).toBe("B-B");
    await queue.close();
  });

  it("collapses a resubmission to the other signing queue into the existing job", async () => {
    const first = await client.submit(signJob({ idempotencyKey: "cross-queue-1" }), { delay: 3_600_000 });
    expect(
      await client.submit(signJob({ idempotencyKey: "cross-queue-1" }), { queue: QUEUES.batch }),
    ).toEqual(first);
    const bulk = await client.submitBulk([
      signJob({ idempotencyKey: "cross-queue-1" }),
      signJob({ idempotencyKey: "cross-queue-2" }),
    ]);
    expect(bulk).toEqual([first, { id: "cross-queue-2", queue: QUEUES.batch }]);
    const batch = new Queue(QUEUES.batch, { connection, prefix });
    expect(await batch.getJob("cross-queue-1")).toBeUndefined();
    expect(await batch.getJob("cross-queue-2")).toBeDefined();
    await batch.close();
    await client.cancel("cross-queue-2");
  });

  it("enqueues a few thousand jobs in bulk on the batch queue", async () => {
    const jobs = Array.from({ length: 3000 }, (_, index) =>
      signJob({
        input: { store: "default", key: `batch/${index}.pdf` },
        idempotencyKey: `bulk-${index % 2999}`,
      }),
    );
    const submitted = await client.submitBulk(jobs);
    expect(submitted).toHaveLength(3000);
    expect(submitted[2999]).toEqual({ id: "bulk-0", queue: QUEUES.batch });
    const queue = new Queue(QUEUES.batch, { connection, prefix });
    // 3000 submissions, one duplicated key: 2999 jobs.
    expect(await queue.getWaitingCount()).toBe(2999);
    expect((await client.get("bulk-1234")).job.input.key).toBe("batch/1234.pdf");
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it("enqueues nothing from a bulk with one invalid job", async () => {
    const jobs = [signJob({ idempotencyKey: "bulk-ok" }), signJob({ signer: "" })];
    const error = await expectCode(client.submitBulk(jobs, { queue: QUEUES.sign }), "E_INVALID_JOB");
    expect(error.message).toMatch(/^job #1:/);
    await expectCode(client.get("bulk-ok"), "E_NOT_FOUND");
  });

  it("waitFor resolves when a worker completes the job", async () => {
    const { id } = await client.submit(signJob({ idempotencyKey: "wait-live" }));
    const result = client.waitFor(id, { timeoutMs: 30_000 });
    startWorker(QUEUES.sign, async (job) => signResult({ output: job.output, signatureId: `sig-${id}` }));
    expect(await result).toEqual(signResult({ signatureId: "sig-wait-live" }));
    expect(await client.get(id)).toMatchObject({ state: "completed", attempts: 1 });
  });

  it("waitFor in a named queue answers E_INTERNAL for a result that is not a v1 SignResult", async () => {
    const { id, queue } = await client.submit(signJob({ idempotencyKey: "wait-invalid" }));
    const result = client.waitFor(id, { timeoutMs: 30_000, queue });
    startWorker(QUEUES.sign, async () => ({ signed: "yes" }));
    const error = await expectCode(result, "E_INTERNAL");
    expect(error.message).toMatch(/not a v1 SignResult/);
  });

  it("waitFor in a named queue answers E_NOT_FOUND for a job that is not there", async () => {
    await expectCode(
      client.waitFor("never-submitted", { timeoutMs: 30_000, queue: QUEUES.sign }),
      "E_NOT_FOUND",
    );
  });

  it("waitFor resolves for a job that completed before it was called", async () => {
    const { id } = await client.submit(signJob({ idempotencyKey: "wait-after" }), { queue: QUEUES.batch });
    const worker = startWorker(QUEUES.batch, async () => signResult({ signatureId: "sig-early" }));
    await new Promise<void>((resolve) =>
      worker.on("completed", (job) => {
        if (job.id === id) resolve();
      }),
    );
    await worker.close();
    // A fresh client has no event subscription yet: it must find the outcome in Redis.
    const late = new SigningClient({ connection, prefix });
    expect((await late.waitFor(id, { timeoutMs: 30_000 })).signatureId).toBe("sig-early");
    await late.close();
  });

  it("waitFor rejects with the worker's error code when the job fails for good", async () => {
    const { id } = await client.submit(signJob({ idempotencyKey: "wait-fail" }), { attempts: 3 });
    const failing = client.waitFor(id, { timeoutMs: 30_000 });
    startWorker(QUEUES.sign, async () => {
      throw new UnrecoverableError(failureReason(new EsignError("E_SIGNER_REJECTED", "certificate revoked")));
    });
    const error = await expectCode(failing, "E_SIGNER_REJECTED");
    expect(error).toMatchObject({ message: "certificate revoked", permanent: true });
    expect((await client.get(id)).error).toEqual({
      code: "E_SIGNER_REJECTED",
      message: "certificate revoked",
      permanent: true,
    });
  });

  it("lists a tenant's failed jobs of both queues newest first, and runs one again with fresh attempts", async () => {
    const reject = async () => {
      throw new UnrecoverableError(failureReason(new EsignError("E_NOT_PDF", "not a PDF")));
    };
    for (const [key, tenant, queue] of [
      ["failed-a1", "acme", QUEUES.sign],
      ["failed-b1", "beta", QUEUES.sign],
      ["failed-a2", "acme", QUEUES.batch],
    ] as const) {
      const { id } = await client.submit(signJob({ idempotencyKey: key, tenant }), { queue });
      const failing = client.waitFor(id, { timeoutMs: 30_000 });
      const worker = startWorker(queue, reject);
      await expectCode(failing, "E_NOT_PDF");
      await worker.close();
    }
    const ofAcme = (status: { job: SignJob }) => status.job.tenant === "acme";

    const listed = await client.recentFailed({ limit: 10, include: ofAcme });
    expect(listed.map((status) => status.id)).toEqual(["failed-a2", "failed-a1"]);
    expect(listed[0]).toMatchObject({ queue: QUEUES.batch, state: "failed", error: { code: "E_NOT_PDF" } });
    expect(Date.parse(listed[0]!.failedAt)).toBeGreaterThanOrEqual(Date.parse(listed[1]!.failedAt));
    expect((await client.recentFailed({ limit: 1, include: ofAcme })).map((status) => status.id)).toEqual([
      "failed-a2",
    ]);

    const done = client.waitFor("failed-a1", { timeoutMs: 30_000 });
    expect((await client.retry("failed-a1")).retried).toBe(true);
    startWorker(QUEUES.sign, async () => signResult());
    await done;
    const again = await client.get("failed-a1");
    expect(again).toMatchObject({ state: "completed", attempts: 1 });
    expect(await client.retry("failed-a1")).toEqual({ retried: false, state: "completed" });
    expect((await client.recentFailed({ limit: 10, include: ofAcme })).map((status) => status.id)).toEqual([
      "failed-a2",
    ]);
    await expectCode(client.retry("never-submitted"), "E_NOT_FOUND");
  });

  it("waitFor gives up with E_TIMEOUT while the job carries on", async () => {
    const { id } = await client.submit(signJob({ idempotencyKey: "wait-timeout" }), { delay: 3_600_000 });
    await expectCode(client.waitFor(id, { timeoutMs: 200 }), "E_TIMEOUT");
    expect((await client.get(id)).state).toBe("delayed");
  });

  it("cancels jobs that have not started, and only those", async () => {
    const waiting = await client.submit(signJob({ idempotencyKey: "cancel-me" }), { delay: 3_600_000 });
    expect(await client.cancel(waiting.id)).toEqual({ cancelled: true, state: "delayed" });
    await expectCode(client.get(waiting.id), "E_NOT_FOUND");
    await expectCode(client.cancel(waiting.id), "E_NOT_FOUND");

    const done = await client.submit(signJob({ idempotencyKey: "cancel-too-late" }));
    const finished = client.waitFor(done.id, { timeoutMs: 30_000 });
    startWorker(QUEUES.sign, async () => signResult());
    await finished;
    expect(await client.cancel(done.id)).toEqual({ cancelled: false, state: "completed" });
  });

  it("notifies subscribers of completed and failed jobs", async () => {
    let onCompleted: (notice: CompletedNotice) => void = () => {};
    let onFailed: (notice: FailedNotice) => void = () => {};
    const completed = new Promise<CompletedNotice>((resolve) => {
      onCompleted = resolve;
    });
    const failed = new Promise<FailedNotice>((resolve) => {
      onFailed = resolve;
    });
    // Subscribed before anything is submitted: notices only cover what happens afterwards.
    const stopCompleted = await client.on(
      "completed",
      (notice) => notice.id === "notify-ok" && onCompleted(notice),
    );
    const stopFailed = await client.on("failed", (notice) => notice.id === "notify-bad" && onFailed(notice));
    await client.submit(signJob({ idempotencyKey: "notify-ok" }), { queue: QUEUES.batch });
    await client.submit(signJob({ idempotencyKey: "notify-bad" }), { queue: QUEUES.batch, attempts: 1 });
    startWorker(QUEUES.batch, async (_job, id) => {
      if (id === "notify-bad") throw new Error(failureReason(new EsignError("E_PDF_CORRUPT", "no xref")));
      return signResult({ signatureId: "sig-notify" });
    });
    expect(await completed).toEqual({
      id: "notify-ok",
      queue: QUEUES.batch,
      result: signResult({ signatureId: "sig-notify" }),
    });
    expect(await failed).toEqual({
      id: "notify-bad",
      queue: QUEUES.batch,
      error: { code: "E_PDF_CORRUPT", message: "no xref", permanent: true },
    });
    stopCompleted();
    stopFailed();
  });
});

describe("SigningClient without Redis", () => {
  it("fails calls with a transient E_UNAVAILABLE and reports background errors", async () => {
    const errors: Error[] = [];
    const offline = new SigningClient({
      // Nothing listens on port 1; fail fast instead of queueing commands until Redis returns.
      connection: { host: "127.0.0.1", port: 1, enableOfflineQueue: false, retryStrategy: () => null },
      prefix,
      onError: (error) => errors.push(error),
    });
    const error = await expectCode(offline.submit(signJob()), "E_UNAVAILABLE");
    expect(error.permanent).toBe(false);
    expect(errors.length).toBeGreaterThan(0);
    await offline.close().catch(() => undefined);
  });
});

describe("events stream", () => {
  it("publishes job events that XREAD consumers can decode", async () => {
    const redis = new Redis(connection);
    const stream = eventsStreamKey(prefix);
    const event: JobEvent = {
      type: "job.completed",
      schemaVersion: 1,
      timestamp: new Date().toISOString(),
      data: { jobId: "invoice-9", queue: QUEUES.sign, tenant: "example-corp", result: signResult() },
    };
    const id = await publishJobEvent(redis, event, { stream });
    const entries = await redis.xrange(stream, id, id);
    expect(entries).toHaveLength(1);
    const fields = entries[0]![1];
    expect(fields.slice(0, 4)).toEqual(["type", "job.completed", "jobId", "invoice-9"]);
    expect(parseJobEventEntry(fields)).toEqual(event);
    await redis.quit();
  });
});
