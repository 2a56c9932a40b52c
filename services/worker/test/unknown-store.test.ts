/**
 * Workers of different deployments on one queue: a worker that lacks a job's store hands the job
 * back for a worker that has it instead of failing it, without competing with that worker for it;
 * a job no worker can serve fails E_INVALID_JOB once it has waited `unknownStoreWaitMs`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { QUEUES } from "@esign/jobs";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { SigningWorker } from "../src/index";
import { createHarness, type Harness, SAMPLE } from "./harness";

/** Jobs for the store only the owner has, and for the one only the other deployment has. */
const JOBS = 12;
const OTHER_JOBS = 4;
/** Replicas of the deployment that lacks the owner's store: each one a competitor for every job. */
const LACKING_REPLICAS = 3;
/**
 * A liveness bound, not a speed one: on an idle box every job is signed within seconds; before the
 * put-backs stepped aside, loaded runs left jobs unsigned after 150-240 s.
 */
const LIVENESS_MS = 120_000;

let harness: Harness;

beforeAll(async () => {
  harness = await createHarness();
});
afterAll(() => harness?.close());

/** One busy loop per core, so the workers share the machine the way they do in a loaded CI run. */
function loadEveryCore(): ChildProcess[] {
  return Array.from({ length: availableParallelism() }, () =>
    spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }),
  );
}

/** Every put-back of the queue: the job and how long after the put-back it was due again. */
async function putBacks(queue: string): Promise<{ jobId: string; dueAfterMs: number }[]> {
  const entries = await harness.redis.xrange(`${harness.prefix}:${queue}:events`, "-", "+");
  return entries.flatMap(([id, fields]) => {
    const event = Object.fromEntries(
      fields.flatMap((field, index) => (index % 2 === 0 ? [[field, fields[index + 1]]] : [])),
    );
    if (event.event !== "delayed") return [];
    return [{ jobId: event.jobId, dueAfterMs: Number(event.delay) - Number(id.split("-")[0]) }];
  });
}

it("leaves jobs for a store it lacks to the worker that has it while both run, under CPU load", async () => {
  await harness.put("inbox/invoice.pdf");
  const elsewhere = join(harness.root, "elsewhere");
  await mkdir(join(elsewhere, "inbox"), { recursive: true });
  await copyFile(SAMPLE, join(elsewhere, "inbox/invoice.pdf"));
  const load = loadEveryCore();
  try {
    // Started first and alone: they see every job before the right worker exists.
    const lacking: SigningWorker[] = [];
    for (let replica = 0; replica < LACKING_REPLICAS; replica++) {
      lacking.push(await harness.startWorker({ stores: { elsewhere: { type: "local", root: elsewhere } } }));
    }
    const submit = (store: string, index: number) =>
      harness.client.submit(
        {
          input: { store, key: "inbox/invoice.pdf" },
          output: { store, key: `signed/invoice-${index}.pdf` },
          signer: "seal",
        },
        { queue: QUEUES.sign },
      );
    const submitted = await Promise.all(Array.from({ length: JOBS }, (_, index) => submit("default", index)));
    const handedBack = async () =>
      (
        await Promise.all(lacking.map((worker) => harness.metric(worker, "esign_jobs_put_back_total")))
      ).reduce((sum, count) => sum + count);
    await expect.poll(handedBack, { timeout: LIVENESS_MS, interval: 100 }).toBeGreaterThan(0);
    const meanwhile = await Promise.all(submitted.map(({ id }) => harness.client.get(id)));
    expect(meanwhile.map((status) => status.state)).not.toContain("failed");
    // At most the one being looked at right now counts a start; put-backs do not add up.
    expect(Math.max(...meanwhile.map((status) => status.attempts))).toBeLessThanOrEqual(1);

    // The owner joins while the lacking replicas keep running, and the other deployment's own
    // jobs come in behind the owner's: neither kind waits for the other for ever.
    const owner = await harness.startWorker({ concurrency: 1 });
    const others = await Promise.all(
      Array.from({ length: OTHER_JOBS }, (_, index) => submit("elsewhere", JOBS + index)),
    );
    const wait = ({ id }: { id: string }) =>
      harness.client.waitFor(id, { timeoutMs: LIVENESS_MS, pollIntervalMs: 500 });
    const [results, otherResults] = await Promise.all([
      Promise.all(submitted.map(wait)),
      Promise.all(others.map(wait)),
    ]);
    expect(results.map((result) => result.output.key).sort()).toEqual(
      Array.from({ length: JOBS }, (_, index) => `signed/invoice-${index}.pdf`).sort(),
    );
    expect(otherResults.map((result) => result.output.store)).toEqual(others.map(() => "elsewhere"));
    // Put back is not an attempt: each job was signed at its first.
    expect([...results, ...otherResults].map((result) => result.attempts)).toEqual(
      Array.from({ length: JOBS + OTHER_JOBS }, () => 1),
    );
    // Each document was signed once, by the worker that has its store; none failed.
    const signCalls = async (worker: SigningWorker) => {
      const stage = await worker.metrics.registry.getSingleMetric("esign_stage_duration_seconds")?.get();
      // prom-client names a histogram's _count sample in metricName, missing from its types.
      const count = stage?.values.find(
        (value) =>
          (value as { metricName?: string }).metricName === "esign_stage_duration_seconds_count" &&
          value.labels.stage === "sign",
      );
      return count?.value ?? 0;
    };
    expect(await signCalls(owner)).toBe(JOBS);
    // Counted on the worker's own "completed" event, which can come just after the client saw the
    // job completed in Redis (seen once under load: 11 of 12 at the first look).
    await expect
      .poll(() => harness.metric(owner, "esign_jobs_total", { state: "completed" }), { timeout: 5_000 })
      .toBe(JOBS);
    expect((await Promise.all(lacking.map(signCalls))).reduce((sum, count) => sum + count)).toBe(OTHER_JOBS);
    for (const worker of [owner, ...lacking]) {
      expect(await harness.metric(worker, "esign_jobs_total", { state: "failed" })).toBe(0);
    }
    // A put-back makes the job due at once, at the back of the line: it never waits out a delay
    // while the owner could sign it (the delay that grew with each put-back is what starved jobs).
    const handedBackJobs = await putBacks(QUEUES.sign);
    expect(handedBackJobs.length).toBeGreaterThan(0);
    expect(handedBackJobs.filter(({ dueAfterMs }) => dueAfterMs > 100)).toEqual([]);
  } finally {
    for (const child of load) child.kill();
    await harness.stopWorkers();
  }
}, 300_000);

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
