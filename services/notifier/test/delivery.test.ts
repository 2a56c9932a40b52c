import { JobEventSchema, webhookDelivery } from "@esign/jobs";
import { afterEach, describe, expect, it } from "vitest";
import { enableEndpoint, getDisabledEndpoint } from "../src/index";
import { newSecret, type Receiver, startHarness, startReceiver, waitFor } from "./harness";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(
  script: Parameters<typeof startReceiver>[0],
  overrides: Partial<Parameters<typeof startHarness>[0]> = {},
) {
  const secret = newSecret();
  const receiver = await startReceiver(script);
  cleanups.push(() => receiver.close());
  const harness = await startHarness({
    tenants: { acme: { secrets: [secret] } },
    allowCidrs: ["127.0.0.1/32"],
    ...overrides,
  });
  cleanups.push(() => harness.cleanup());
  return { secret, receiver, harness };
}

function expectAllVerify(receiver: Receiver, secret: string) {
  receiver.requests.forEach((_, index) => {
    expect(receiver.verify(index, secret)).toMatchObject({ type: "job.completed" });
  });
}

describe("delivery and retries", () => {
  it("retries 500 twice with the same webhook-id, then records the 200", async () => {
    const { secret, receiver, harness } = await setUp((index) => ({ status: index < 2 ? 500 : 200 }));
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    const log = await harness.finished(job.jobId!);

    expect(receiver.requests).toHaveLength(3);
    expect(receiver.requests.map((request) => request.headers["webhook-id"])).toEqual([
      job.deliveryId,
      job.deliveryId,
      job.deliveryId,
    ]);
    expectAllVerify(receiver, secret);
    const first = JSON.parse(receiver.requests[0]!.body);
    expect(first).toEqual({ type: job.event.type, timestamp: job.event.timestamp, data: job.event.data });
    expect(receiver.requests[0]!.headers["content-type"]).toBe("application/json");
    expect(log.map(({ attempt, statusCode, outcome }) => ({ attempt, statusCode, outcome }))).toEqual([
      { attempt: 1, statusCode: 500, outcome: "retrying" },
      { attempt: 2, statusCode: 500, outcome: "retrying" },
      { attempt: 3, statusCode: 200, outcome: "delivered" },
    ]);
    expect(log[0]!.error).toEqual({ code: "E_WEBHOOK", message: "answered 500" });
    expect(Date.parse(log[0]!.nextRetryAt!)).toBeLessThanOrEqual(Date.parse(log[1]!.at));
    expect(log[2]!.nextRetryAt).toBeUndefined();
    expect(await harness.outcomes()).toEqual({ retrying: 2, delivered: 1 });
  });

  it("keeps a delayed retry in Redis across a restart and honours Retry-After in seconds", async () => {
    const { secret, receiver, harness } = await setUp((index) =>
      index === 0 ? { status: 503, headers: { "retry-after": "1" } } : { status: 204 },
    );
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });
    const [firstAttempt] = await waitFor(async () => {
      const log = await harness.deliveries(job.jobId!);
      return log.length > 0 ? log : undefined;
    });
    await harness.stop();
    expect(await harness.queue.getJobState(`webhook-${job.deliveryId}`)).toBe("delayed");

    harness.start();
    const log = await harness.finished(job.jobId!);

    expect(log.map(({ attempt, statusCode }) => [attempt, statusCode])).toEqual([
      [1, 503],
      [2, 204],
    ]);
    const retryAfterElapsedAt = Date.parse(firstAttempt!.at) + firstAttempt!.durationMs + 1000;
    expect(Date.parse(log[0]!.nextRetryAt!)).toBeGreaterThanOrEqual(retryAfterElapsedAt);
    expect(Date.parse(log[1]!.at)).toBeGreaterThanOrEqual(retryAfterElapsedAt);
    expect(receiver.requests[1]!.headers["webhook-id"]).toBe(job.deliveryId);
    expectAllVerify(receiver, secret);
  });

  it("honours Retry-After given as an HTTP date on 429", async () => {
    let retryAfterDate = 0;
    const { receiver, harness } = await setUp((index) => {
      if (index > 0) return { status: 200 };
      // Two seconds ahead, truncated to the whole second an HTTP date can express.
      retryAfterDate = Math.floor(Date.now() / 1000) * 1000 + 2000;
      return { status: 429, headers: { "retry-after": new Date(retryAfterDate).toUTCString() } };
    });
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    const log = await harness.finished(job.jobId!);

    expect(log.map(({ statusCode, outcome }) => [statusCode, outcome])).toEqual([
      [429, "retrying"],
      [200, "delivered"],
    ]);
    expect(Date.parse(log[0]!.nextRetryAt!)).toBeGreaterThanOrEqual(retryAfterDate);
    expect(Date.parse(log[1]!.at)).toBeGreaterThanOrEqual(retryAfterDate);
  });

  it("records a timed-out attempt as a retryable error", async () => {
    const { receiver, harness } = await setUp((index) => (index === 0 ? "hang" : { status: 200 }), {
      timeoutMs: 300,
    });
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    const log = await harness.finished(job.jobId!);

    expect(log[0]).toMatchObject({
      outcome: "retrying",
      error: { code: "E_WEBHOOK", message: "POST: no answer within 300 ms" },
    });
    expect(log[0]!.statusCode).toBeUndefined();
    expect(log[1]).toMatchObject({ attempt: 2, outcome: "delivered", statusCode: 200 });
  });

  it("gives up on other 4xx after clientErrorAttempts", async () => {
    const { receiver, harness } = await setUp((index) => ({ status: index < 10 ? 400 : 500 }), {
      clientErrorAttempts: 2,
    });
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    const log = await harness.finished(job.jobId!);

    expect(log.map(({ statusCode, outcome }) => [statusCode, outcome])).toEqual([
      [400, "retrying"],
      [400, "failed"],
    ]);
    expect(log[1]!.error?.message).toMatch(/client error on attempt 2 of 2/);
    // The log is written before BullMQ moves the job: wait for the move, which must be to "failed".
    const settledState = await waitFor(async () => {
      const state = await harness.queue.getJobState(`webhook-${job.deliveryId}`);
      return state === "active" ? undefined : state;
    });
    expect(settledState).toBe("failed");
  });

  it("stops retrying 5xx once the retry window is spent", async () => {
    const { receiver, harness } = await setUp(() => ({ status: 502 }), {
      retryWindowSeconds: 1,
      retryBaseDelayMs: 200,
    });
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    const log = await harness.finished(job.jobId!);

    const last = log.at(-1)!;
    expect(last.outcome).toBe("failed");
    expect(last.error?.message).toMatch(/retry window of 1 s exhausted/);
    expect(log.slice(0, -1).every((entry) => entry.outcome === "retrying")).toBe(true);
    expect(receiver.requests).toHaveLength(log.length);
  });
});

describe("enqueueing", () => {
  it("collapses a delivery enqueued twice and logs one without jobId under its deliveryId", async () => {
    const { receiver, harness } = await setUp(() => ({ status: 200 }));
    const delivery = await harness.enqueue({ tenant: "acme", url: receiver.url, jobId: undefined });
    await harness.enqueue(delivery);

    const log = await harness.finished(delivery.deliveryId);

    expect(log).toMatchObject([{ deliveryId: delivery.deliveryId, outcome: "delivered" }]);
    expect(receiver.requests).toHaveLength(1);
  });

  it("turns a signing job's event and callback into a delivery signed with the secretId's secrets", async () => {
    const [secret, tenantSecret] = [newSecret(), newSecret()];
    const { receiver, harness } = await setUp(() => ({ status: 200 }), {
      tenants: { "erp-hooks": { secrets: [secret] }, acme: { secrets: [tenantSecret] } },
    });
    const event = JobEventSchema.parse({
      type: "job.completed",
      schemaVersion: 1,
      timestamp: "2026-11-27T23:00:00.000Z",
      data: {
        jobId: "invoice-4711",
        queue: "esign-sign",
        tenant: "acme",
        result: {
          schemaVersion: 1,
          output: { store: "out", key: "signed/invoice-4711.pdf" },
          size: 12345,
          sha256: "ab".repeat(32),
          fieldName: "Signature1",
          signingTime: "2026-11-27T22:59:59.000Z",
          level: "B-T",
          signerSubject: "CN=ACME Signing",
          signatureId: "tx-1",
          attempts: 1,
        },
      },
    });
    const delivery = webhookDelivery(event, { url: receiver.url, secretId: "erp-hooks" });
    await harness.enqueue(delivery);

    expect(await harness.finished("invoice-4711")).toMatchObject([{ outcome: "delivered" }]);
    const { schemaVersion: _, ...webhookPayload } = event;
    expect(receiver.verify(0, secret)).toEqual(webhookPayload);
    expect(() => receiver.verify(0, tenantSecret)).toThrow();
    expect(receiver.requests[0]!.headers["webhook-id"]).toBe(delivery.deliveryId);
    // The tenant still owns the delivery (a 410 disables the URL for acme only).
    expect(delivery).toMatchObject({ tenant: "acme", secretId: "erp-hooks" });
  });

  it("refuses an invalid delivery job before it reaches the queue", async () => {
    const { receiver, harness } = await setUp(() => ({ status: 200 }));
    await expect(harness.enqueue({ tenant: "acme", url: receiver.url, deliveryId: "a:b" })).rejects.toThrow(
      /deliveryId may only contain/,
    );
  });
});

describe("410 Gone", () => {
  it("disables the endpoint and skips later deliveries to it until re-enabled", async () => {
    const { receiver, harness } = await setUp((index) => ({ status: index === 0 ? 410 : 200 }));
    const gone = await harness.enqueue({ tenant: "acme", url: receiver.url });
    const goneLog = await harness.finished(gone.jobId!);
    expect(goneLog).toMatchObject([{ statusCode: 410, outcome: "failed", error: { code: "E_NOT_FOUND" } }]);
    const disabled = await getDisabledEndpoint(harness.redis, "acme", receiver.url, {
      prefix: harness.config.queuePrefix,
    });
    expect(disabled).toMatchObject({ deliveryId: gone.deliveryId, statusCode: 410 });

    const later = await harness.enqueue({ tenant: "acme", url: receiver.url });
    const laterLog = await harness.finished(later.jobId!);

    expect(laterLog).toMatchObject([{ outcome: "skipped", error: { code: "E_NOT_FOUND" } }]);
    expect(laterLog[0]!.error!.message).toContain(gone.deliveryId);
    expect(receiver.requests).toHaveLength(1);

    expect(
      await enableEndpoint(harness.redis, "acme", receiver.url, { prefix: harness.config.queuePrefix }),
    ).toBe(true);
    const again = await harness.enqueue({ tenant: "acme", url: receiver.url });
    expect(await harness.finished(again.jobId!)).toMatchObject([{ outcome: "delivered", statusCode: 200 }]);
    expect(await harness.outcomes()).toEqual({ failed: 1, skipped: 1, delivered: 1 });
  });
});

describe("SSRF guard", () => {
  it.each([
    ["cloud metadata", "http://169.254.169.254/latest/meta-data/", /cloud metadata address/],
    ["metadata host name", "http://metadata.google.internal/computeMetadata/v1/", /cloud metadata host/],
    ["private address", "http://10.0.0.1/hook", /private address/],
  ])("refuses %s without connecting", async (_name, url, reason) => {
    const { harness } = await setUp(() => ({ status: 200 }));
    const job = await harness.enqueue({ tenant: "acme", url });

    const log = await harness.finished(job.jobId!);

    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ outcome: "failed", error: { code: "E_FORBIDDEN" } });
    expect(log[0]!.error!.message).toMatch(/^ssrf: /);
    expect(log[0]!.error!.message).toMatch(reason);
    expect(log[0]!.statusCode).toBeUndefined();
  });

  it("refuses the loopback receiver unless allow-listed, and never connects when refusing", async () => {
    const { receiver, harness } = await setUp(() => ({ status: 200 }), { allowCidrs: [] });
    const urls = [
      receiver.url,
      `http://localhost:${receiver.port}/hook`,
      `http://[::ffff:127.0.0.1]:${receiver.port}/hook`,
      `http://2130706433:${receiver.port}/hook`,
    ];
    for (const url of urls) {
      const job = await harness.enqueue({ tenant: "acme", url });
      const log = await harness.finished(job.jobId!);
      expect(log).toMatchObject([{ outcome: "failed", error: { code: "E_FORBIDDEN" } }]);
      expect(log[0]!.error!.message).toMatch(/loopback address/);
    }
    expect(receiver.connections()).toBe(0);
    expect(receiver.requests).toHaveLength(0);
  });

  it.each([
    ["an allow-listed CIDR", { allowCidrs: ["127.0.0.0/8"] }, "127.0.0.1"],
    ["an allow-listed host", { allowCidrs: [], allowHosts: ["localhost"] }, "localhost"],
  ])("delivers to loopback through %s", async (_name, overrides, host) => {
    const { secret, receiver, harness } = await setUp(() => ({ status: 200 }), overrides);
    const job = await harness.enqueue({ tenant: "acme", url: `http://${host}:${receiver.port}/hook` });

    expect(await harness.finished(job.jobId!)).toMatchObject([{ outcome: "delivered", statusCode: 200 }]);
    expectAllVerify(receiver, secret);
  });

  it("refuses non-http schemes", async () => {
    const { harness } = await setUp(() => ({ status: 200 }));
    const job = await harness.enqueue({ tenant: "acme", url: "file:///etc/passwd" });

    const log = await harness.finished(job.jobId!);

    expect(log).toMatchObject([{ outcome: "failed", error: { code: "E_FORBIDDEN" } }]);
    expect(log[0]!.error!.message).toMatch(/scheme file: is not allowed/);
  });

  it("does not follow redirects", async () => {
    const { receiver, harness } = await setUp((index) =>
      index === 0 ? { status: 307, headers: { location: "http://169.254.169.254/" } } : { status: 200 },
    );
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    const log = await harness.finished(job.jobId!);

    expect(log).toMatchObject([{ statusCode: 307, outcome: "failed" }]);
    expect(log[0]!.error!.message).toMatch(/redirects are not followed/);
    expect(receiver.requests).toHaveLength(1);
  });
});

describe("secret rotation", () => {
  it("signs with every active secret so a receiver knowing either one verifies", async () => {
    const oldSecret = newSecret();
    const newSecretValue = newSecret();
    const { receiver, harness } = await setUp(() => ({ status: 200 }), {
      tenants: { acme: { secrets: [oldSecret, newSecretValue] } },
    });
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    await harness.finished(job.jobId!);

    expect(String(receiver.requests[0]!.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(receiver.verify(0, newSecretValue)).toMatchObject({ type: "job.completed" });
    expect(receiver.verify(0, oldSecret)).toMatchObject({ type: "job.completed" });
    expect(() => receiver.verify(0, newSecret())).toThrow(/No matching signature/);
  });

  it("fails permanently for a tenant without secrets", async () => {
    const { receiver, harness } = await setUp(() => ({ status: 200 }));
    const job = await harness.enqueue({ tenant: "unknown-tenant", url: receiver.url });

    const log = await harness.finished(job.jobId!);

    expect(log).toMatchObject([{ outcome: "failed", error: { code: "E_CONFIG" } }]);
    expect(receiver.requests).toHaveLength(0);
  });
});
