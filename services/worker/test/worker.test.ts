import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isEsignError } from "@esign/errors";
import {
  BatchClient,
  eventsStreamKey,
  parseJobEventEntry,
  QUEUES,
  WebhookDeliveryJobSchema,
} from "@esign/jobs";
import { countPixels, pixelBox, REPO_ROOT, renderPage, run, textInRegion, validate } from "@esign/testkit";
import { Queue } from "bullmq";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, SAMPLE } from "./harness";

let harness: Harness;

beforeAll(async () => {
  harness = await createHarness();
});

// Each test counts its own worker's metrics: no other worker may take its jobs.
afterEach(async () => {
  await harness.stopWorkers();
});

afterAll(async () => {
  await harness?.close();
});

async function failureOf(id: string) {
  try {
    await harness.client.waitFor(id, { timeoutMs: 60_000, pollIntervalMs: 200 });
  } catch (error) {
    if (isEsignError(error) && error.code !== "E_TIMEOUT") return error;
    throw error;
  }
  throw new Error(`job ${id} completed, expected it to fail`);
}

describe("signing worker (in process, local store, p12 key)", () => {
  it("signs jobs into valid PDFs, returns a SignResult and announces it on the events stream", async () => {
    const worker = await harness.startWorker();
    await harness.put("in/a.pdf");
    await harness.put("in/b.pdf");
    const submitted = await harness.client.submitBulk([
      { input: { store: "default", key: "in/a.pdf" }, signer: "seal", metadata: { invoice: "A" } },
      {
        input: { store: "default", key: "in/b.pdf" },
        signer: "seal",
        level: "B-B",
        field: { name: "Approval" },
      },
    ]);
    const results = await Promise.all(
      submitted.map(({ id }) => harness.client.waitFor(id, { timeoutMs: 60_000, pollIntervalMs: 200 })),
    );
    expect(results.map((result) => result.output.key)).toEqual(["signed/in/a.pdf", "signed/in/b.pdf"]);
    expect(results[1]!.fieldName).toBe("Approval");
    expect(results[0]!.signerSubject).toContain("CN=Test Signer");
    for (const result of results) {
      const report = await validate(join(harness.root, "documents", result.output.key), harness.pki.rootPem);
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);
    }

    const entries = await harness.redis.xrange(eventsStreamKey(harness.prefix), "-", "+");
    const events = entries.map(([, fields]) => parseJobEventEntry(fields));
    const completed = events.filter((event) => event.type === "job.completed");
    expect(completed.map((event) => event.data.jobId).sort()).toEqual(submitted.map(({ id }) => id).sort());
    const first = completed.find((event) => event.data.jobId === submitted[0]!.id)!;
    expect(first.data.metadata).toEqual({ invoice: "A" });
    // Counted on the worker's "completed" event, which may come just after the job shows completed.
    await expect
      .poll(() => harness.metric(worker, "esign_jobs_total", { queue: "esign-batch", state: "completed" }))
      .toBe(2);
    expect(
      await harness.metric(worker, "esign_signing_api_calls_total", { backend: "p12", outcome: "ok" }),
    ).toBe(2);
    expect(await harness.metric(worker, "esign_bytes_hashed_total")).toBeGreaterThan(0);
  });

  it("fails bad input after one attempt with its code, and publishes job.failed once", async () => {
    await harness.startWorker();
    await writeFile(join(harness.root, "documents", "not-a-pdf.pdf"), "hello, I am plain text\n");
    const notPdf = await harness.client.submit({
      input: { store: "default", key: "not-a-pdf.pdf" },
      signer: "seal",
    });
    const unknownSigner = await harness.client.submit({
      input: { store: "default", key: "in/a.pdf" },
      signer: "nope",
    });
    const missing = await harness.client.submit({
      input: { store: "default", key: "missing.pdf" },
      signer: "seal",
    });

    expect((await failureOf(notPdf.id)).code).toBe("E_NOT_PDF");
    expect((await failureOf(unknownSigner.id)).code).toBe("E_INVALID_JOB");
    expect((await failureOf(missing.id)).code).toBe("E_NOT_FOUND");
    for (const { id } of [notPdf, unknownSigner, missing]) {
      expect((await harness.client.get(id)).attempts).toBe(1);
    }
    const entries = await harness.redis.xrange(eventsStreamKey(harness.prefix), "-", "+");
    const failed = entries
      .map(([, fields]) => parseJobEventEntry(fields))
      .filter((event) => event.type === "job.failed" && event.data.jobId === notPdf.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.type === "job.failed" && failed[0]!.data.error.code).toBe("E_NOT_PDF");
  });

  it("refuses a B-LT job before signing when its profile requires LTV and the chain names no OCSP or CRL URL", async () => {
    const password = { env: "WORKER_TEST_P12_PASSWORD" };
    // contentsSize given: the p12 key has no TSA, so its own estimate for B-LT would fail first.
    const profile = { type: "p12" as const, p12Path: harness.pki.p12, password, contentsSize: 16_384 };
    const worker = await harness.startWorker({ signers: { "seal-ltv": { ...profile, requireLtv: true } } });
    await harness.put("in/ltv.pdf");
    const { id } = await harness.client.submit({
      input: { store: "default", key: "in/ltv.pdf" },
      signer: "seal-ltv",
      level: "B-LT",
    });
    const failure = await failureOf(id);
    expect(failure.code).toBe("E_CERT");
    expect(failure.message).toMatch(
      /LTV is required and B-LT cannot reach LTV: CN=Test Signer, .* lacks an OCSP/,
    );
    expect(failure.message).toContain("CN=esign test issuing CA");
    expect((await harness.client.get(id)).attempts).toBe(1);
    // Refused before the key was asked to sign.
    expect(await harness.metric(worker, "esign_signing_api_calls_total", { backend: "p12" })).toBe(0);
  });

  it("signs an encrypted input with the password its job names by reference, never by value", async () => {
    const password = "worker pdf password";
    process.env.WORKER_TEST_PDF_PASSWORD = password;
    const encrypted = join(harness.root, "encrypted.pdf");
    await run("qpdf", ["--encrypt", password, "owner-pw", "256", "--", SAMPLE, encrypted]);
    await harness.put("enc/in.pdf", encrypted);
    await harness.startWorker({
      signers: {
        seal: {
          type: "p12",
          p12Path: harness.pki.p12,
          password: { env: "WORKER_TEST_P12_PASSWORD" },
          pdfPasswords: { invoices: { env: "WORKER_TEST_PDF_PASSWORD" } },
        },
      },
    });
    const input = { store: "default", key: "enc/in.pdf" };
    const named = await harness.client.submit({ input, signer: "seal", pdfPassword: { secret: "invoices" } });
    const result = await harness.client.waitFor(named.id, { timeoutMs: 60_000, pollIntervalMs: 200 });
    const report = await validate(join(harness.root, "documents", result.output.key), harness.pki.rootPem, {
      pdfPassword: password,
    });
    expect(report.failures, report.output).toEqual([]);

    const output = { store: "default", key: "enc/other.pdf" };
    const unnamed = await harness.client.submit({ input, output, signer: "seal" });
    const unknown = await harness.client.submit({
      input,
      output,
      signer: "seal",
      pdfPassword: { secret: "hr" },
    });
    expect((await failureOf(unnamed.id)).code).toBe("E_PASSWORD");
    expect((await failureOf(unknown.id)).code).toBe("E_INVALID_JOB");
    for (const { id } of [unnamed, unknown]) expect((await harness.client.get(id)).attempts).toBe(1);
    // Nothing the queue keeps (jobs, results, events, checkpoints) holds the password.
    const stored: string[] = [];
    for (const key of await harness.redis.keys(`${harness.prefix}*`)) {
      const type = await harness.redis.type(key);
      if (type === "hash") stored.push(JSON.stringify(await harness.redis.hgetall(key)));
      if (type === "string") stored.push((await harness.redis.get(key)) ?? "");
      if (type === "stream") stored.push(JSON.stringify(await harness.redis.xrange(key, "-", "+")));
    }
    expect(stored.join("\n")).toContain("invoices");
    expect(stored.join("\n")).not.toContain(password);
  });

  it("reuses the checkpointed signature when an attempt fails after signing", async () => {
    const worker = await harness.startWorker();
    await harness.put("retry/in.pdf");
    // A directory where the output file must go: the upload fails (transient E_STORAGE) after signing.
    const blocker = join(harness.root, "documents", "retry/out.pdf");
    await mkdir(join(blocker, "occupied"), { recursive: true });
    const unblockAfterFirstFailure = new Promise<void>((resolve) => {
      worker.workers[0]!.once("failed", () => {
        rm(blocker, { recursive: true, force: true }).then(resolve, resolve);
      });
    });
    const { id } = await harness.client.submit({
      input: { store: "default", key: "retry/in.pdf" },
      output: { store: "default", key: "retry/out.pdf" },
      signer: "seal",
    });
    await unblockAfterFirstFailure;
    const result = await harness.client.waitFor(id, { timeoutMs: 60_000, pollIntervalMs: 200 });
    expect(result.attempts).toBe(2);
    expect(
      await harness.metric(worker, "esign_signing_api_calls_total", { backend: "p12", outcome: "ok" }),
    ).toBe(1);
    expect(await harness.metric(worker, "esign_retries_total")).toBe(1);
    const report = await validate(join(harness.root, "documents", "retry/out.pdf"), harness.pki.rootPem);
    expect(report.failures).toEqual([]);
    // The checkpoint is gone once the job is recorded as completed.
    await expect
      .poll(() => harness.redis.exists(`${harness.prefix}:worker:checkpoint:esign-sign:${id}`))
      .toBe(0);
  });

  it("collapses duplicate submissions with one idempotency key into one signature", async () => {
    const worker = await harness.startWorker();
    await harness.put("dup/in.pdf");
    const job = { input: { store: "default", key: "dup/in.pdf" }, signer: "seal", idempotencyKey: "dup-1" };
    const [first, second] = await Promise.all([harness.client.submit(job), harness.client.submit(job)]);
    expect(second.id).toBe(first.id);
    await harness.client.waitFor(first.id, { timeoutMs: 60_000, pollIntervalMs: 200 });
    const third = await harness.client.submit(job);
    expect(third.id).toBe(first.id);
    // Counted on the worker's "completed" event, which may come just after the job shows completed.
    await expect
      .poll(() => harness.metric(worker, "esign_jobs_total", { queue: "esign-sign", state: "completed" }))
      .toBe(1);
    expect(
      await harness.metric(worker, "esign_signing_api_calls_total", { backend: "p12", outcome: "ok" }),
    ).toBe(1);
  });

  it("hands a webhook delivery to the notifier's queue when the job has a callback, naming its secretId", async () => {
    await harness.startWorker();
    await harness.put("hook/in.pdf");
    const { id } = await harness.client.submit({
      input: { store: "default", key: "hook/in.pdf" },
      signer: "seal",
      tenant: "acme",
      callback: { url: "https://erp.example.com/hooks/esign", secretId: "erp-hooks" },
    });
    const result = await harness.client.waitFor(id, { timeoutMs: 60_000, pollIntervalMs: 200 });
    const webhooks = new Queue(QUEUES.webhooks, { connection: harness.redis, prefix: harness.prefix });
    const delivery = await webhooks.getJob(`webhook-esign-sign.${id}.job.completed`);
    await webhooks.close();
    const data = WebhookDeliveryJobSchema.parse(delivery?.data);
    expect(data).toMatchObject({
      tenant: "acme",
      secretId: "erp-hooks",
      url: "https://erp.example.com/hooks/esign",
      jobId: id,
    });
    expect(data.event.type).toBe("job.completed");
    expect(data.event.data).toMatchObject({ jobId: id, result });
  });
});

const FIXTURES = join(REPO_ROOT, "packages/appearance/test/fixtures");
const CONTRACT = join(FIXTURES, "gs-contract.pdf");

/** The harness's p12 profile with an HR seal template: stamp image, bilingual text, a fixed size. */
function startWorkerWithSeal(image = join(FIXTURES, "stamp.png")) {
  return harness.startWorker({
    signers: {
      seal: {
        type: "p12",
        p12Path: harness.pki.p12,
        password: { env: "WORKER_TEST_P12_PASSWORD" },
        seals: {
          "hr-seal": { image, text: "HR department\n人事部 {name}\n{date}", size: [180, 60] },
        },
      },
    },
  });
}

const isRed = (r: number, g: number, b: number) => r > 150 && g < 90 && b < 90;

/** The anchor "{{seal}}" is at x=300 on the baseline y=200 of page 2; the seal's corner goes there. */
const ANCHORED = [300, 197, 480, 257];

async function expectHrSeal(path: string): Promise<void> {
  const verdict = await validate(path, harness.pki.rootPem);
  expect(verdict.failures, verdict.output).toEqual([]);
  const page = await renderPage(path, 2);
  expect(countPixels(page, pixelBox(page, ANCHORED), isRed)).toBeGreaterThan(300);
  const text = await textInRegion(path, 2, ANCHORED, page.height);
  expect(text).toContain("HR department");
  expect(text).toContain("人事部 Test Signer");
}

describe("seal templates in signer profiles", () => {
  it('signs a job that only says {"template": "hr-seal", "anchor": "{{seal}}"}', async () => {
    await startWorkerWithSeal();
    await harness.put("contracts/a.pdf", CONTRACT);
    const { id } = await harness.client.submit({
      input: { store: "default", key: "contracts/a.pdf" },
      signer: "seal",
      appearance: { template: "hr-seal", anchor: "{{seal}}" },
    });
    const result = await harness.client.waitFor(id, { timeoutMs: 60_000, pollIntervalMs: 200 });
    await expectHrSeal(join(harness.root, "documents", result.output.key));
  });

  it("stamps every document of a batch with the batch's one template", async () => {
    await startWorkerWithSeal();
    await harness.put("batch/one.pdf", CONTRACT);
    await harness.put("batch/two.pdf", CONTRACT);
    const batches = new BatchClient({ connection: harness.redis, prefix: harness.prefix });
    try {
      const { id } = await batches.create({
        items: [
          { input: { store: "default", key: "batch/one.pdf" } },
          { input: { store: "default", key: "batch/two.pdf" } },
        ],
        options: { signer: "seal", appearance: { template: "hr-seal", page: 2, anchor: "{{seal}}" } },
      });
      const status = await batches.waitFor(id, { timeoutMs: 120_000 });
      expect(status.counts).toMatchObject({ total: 2, completed: 2, failed: 0 });
    } finally {
      await batches.close();
    }
    for (const key of ["signed/batch/one.pdf", "signed/batch/two.pdf"]) {
      await expectHrSeal(join(harness.root, "documents", key));
    }
  });

  it("fails a job naming an unknown template, or an anchor that is not there, with E_APPEARANCE after one attempt", async () => {
    await startWorkerWithSeal();
    await harness.put("contracts/b.pdf", CONTRACT);
    const input = { store: "default", key: "contracts/b.pdf" };
    const unknown = await harness.client.submit({
      input,
      signer: "seal",
      appearance: { template: "ceo-seal" },
    });
    const noAnchor = await harness.client.submit({
      input,
      output: { store: "default", key: "signed/b-2.pdf" },
      signer: "seal",
      appearance: { template: "hr-seal", anchor: "Not in this contract" },
    });
    for (const [{ id }, message] of [
      [unknown, /no seal template "ceo-seal" \(it has: hr-seal\)/],
      [noAnchor, /anchor text "Not in this contract" was not found/],
    ] as const) {
      const error = await harness.client.waitFor(id, { timeoutMs: 60_000, pollIntervalMs: 200 }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isEsignError(error) && error.code).toBe("E_APPEARANCE");
      expect((error as Error).message).toMatch(message);
      expect((await harness.client.get(id)).attempts).toBe(1);
    }
  });

  it("refuses to start with a seal template whose image is unreadable", async () => {
    const error = await startWorkerWithSeal(join(FIXTURES, "make-fixtures.sh")).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isEsignError(error) && error.code).toBe("E_CONFIG");
    expect((error as Error).message).toMatch(/signer profile seal, seal hr-seal: .*neither a PNG nor a JPEG/);
  });
});
