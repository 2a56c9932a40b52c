import { validate } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, scrape, startCluster } from "./worker-cluster";

const JOBS = 500;
const SAMPLED = 5;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.close();
});

describe("signing workers end to end (two processes, s3rver, the simulator's CMS-returning E-sign API)", () => {
  it(`signs ${JOBS} jobs submitted through SigningClient with exactly ${JOBS} billed signatures`, async () => {
    const workers = await Promise.all([cluster.startWorker(), cluster.startWorker()]);
    await cluster.upload("inbox/invoice.pdf");
    const submitted = await cluster.client.submitBulk(
      Array.from({ length: JOBS }, (_, index) => ({
        input: { store: "default", key: "inbox/invoice.pdf" },
        output: { store: "default", key: `signed/invoice-${index}.pdf` },
        signer: "seal-esign-api",
        idempotencyKey: `invoice-${index}`,
      })),
    );
    const results = await Promise.all(
      submitted.map(({ id }) => cluster.client.waitFor(id, { timeoutMs: 300_000, pollIntervalMs: 5_000 })),
    );
    expect(new Set(results.map((result) => result.output.key)).size).toBe(JOBS);
    expect(cluster.sim.usage().signatures).toBe(JOBS);

    // Both processes took part, and their counters add up to the whole run.
    const perWorker = await Promise.all(
      workers.map((worker) => scrape(worker, "esign_jobs_total", { state: "completed" })),
    );
    expect(perWorker.every((count) => count > 0)).toBe(true);
    expect(perWorker[0]! + perWorker[1]!).toBe(JOBS);
    expect(await scrape(workers[0]!, "esign_queue_jobs", { queue: "esign-batch", state: "completed" })).toBe(
      JOBS,
    );

    for (const index of [0, 123, 250, 377, JOBS - 1].slice(0, SAMPLED)) {
      const file = await cluster.download(`signed/invoice-${index}.pdf`);
      const report = await validate(file, cluster.rootPemPath);
      expect(report.failures, report.output).toEqual([]);
      expect(report.ok).toBe(true);
    }

    // Resubmitting the same idempotency keys signs nothing more.
    await cluster.client.submitBulk(
      [0, 1, 2].map((index) => ({
        input: { store: "default", key: "inbox/invoice.pdf" },
        output: { store: "default", key: `signed/invoice-${index}.pdf` },
        signer: "seal-esign-api",
        idempotencyKey: `invoice-${index}`,
      })),
    );
    expect(cluster.sim.usage().signatures).toBe(JOBS);

    // SIGTERM drains and exits cleanly.
    for (const worker of workers) worker.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((worker) => worker.exited))).toEqual([0, 0]);
  }, 600_000);
});
