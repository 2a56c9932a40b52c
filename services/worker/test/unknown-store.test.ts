/**
 * Workers of different deployments on one queue: a worker that lacks a job's store puts the job
 * back for a worker that has it instead of failing it; a job no worker can serve fails
 * E_INVALID_JOB once it has waited `unknownStoreWaitMs`.
 */
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { QUEUES } from "@esign/jobs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createHarness, type Harness } from "./harness";

const JOBS = 12;
let harness: Harness;

beforeAll(async () => {
  harness = await createHarness();
});
afterAll(() => harness?.close());

it("leaves jobs for a store it lacks to the worker that has it, failing none", async () => {
  await harness.put("inbox/invoice.pdf");
  // Started first and alone: it sees every job before the right worker exists.
  const foreign = await harness.startWorker({
    stores: { elsewhere: { type: "local", root: join(harness.root, "elsewhere") } },
  });
  const submitted = await Promise.all(
    Array.from({ length: JOBS }, (_, index) =>
      harness.client.submit(
        {
          input: { store: "default", key: "inbox/invoice.pdf" },
          output: { store: "default", key: `signed/invoice-${index}.pdf` },
          signer: "seal",
        },
        { queue: QUEUES.sign },
      ),
    ),
  );
  await new Promise((done) => setTimeout(done, 1500));
  const meanwhile = await Promise.all(submitted.map(({ id }) => harness.client.get(id)));
  expect(meanwhile.map((status) => status.state)).not.toContain("failed");
  // Taken and put back: delayed, not started for good.
  expect(meanwhile.some((status) => status.state === "delayed")).toBe(true);
  // At most the one being looked at right now counts a start; put-backs do not add up.
  expect(Math.max(...meanwhile.map((status) => status.attempts))).toBeLessThanOrEqual(1);

  // Then the lacking worker leaves and the right one comes. While both ran, on a loaded machine the
  // lacking one kept taking the promoted jobs back and some were not signed within 240 s (twice in
  // full-suite runs; see docs/operations.md, "Shared Redis"): that starvation is open, not tested.
  await harness.stopWorkers();
  const owner = await harness.startWorker();
  const results = await Promise.all(
    submitted.map(({ id }) => harness.client.waitFor(id, { timeoutMs: 120_000, pollIntervalMs: 500 })),
  );
  expect(results.map((result) => result.output.key).sort()).toEqual(
    Array.from({ length: JOBS }, (_, index) => `signed/invoice-${index}.pdf`).sort(),
  );
  // Put back is not an attempt: each job was signed at its first.
  expect(results.map((result) => result.attempts)).toEqual(Array.from({ length: JOBS }, () => 1));
  expect(await harness.metric(foreign, "esign_jobs_total", { state: "completed" })).toBe(0);
  expect(await harness.metric(foreign, "esign_jobs_total", { state: "failed" })).toBe(0);
  expect(await harness.metric(owner, "esign_jobs_total", { state: "completed" })).toBe(JOBS);
  await harness.stopWorkers();
}, 180_000);

it("fails a job whose store no worker has once it has waited long enough", async () => {
  await harness.startWorker({ unknownStoreWaitMs: 1000 });
  const { id } = await harness.client.submit({
    input: { store: "nowhere", key: "inbox/invoice.pdf" },
    signer: "seal",
  });
  const error = await harness.client.waitFor(id, { timeoutMs: 60_000, pollIntervalMs: 200 }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(EsignError);
  expect((error as EsignError).code).toBe("E_INVALID_JOB");
  expect((error as EsignError).message).toMatch(/no object store named "nowhere"/);
  await harness.stopWorkers();
}, 120_000);
