import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isEsignError } from "@esign/errors";
import type { SignJobInput } from "@esign/jobs";
import { validate } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, scrape, startCluster, type WorkerProcess } from "./worker-cluster";

const CONCURRENCY = 8;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    workerEnv: {
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // A killed worker's jobs are recovered within seconds instead of the production 30 s.
      WORKER_LOCK_DURATION_MS: "3000",
      WORKER_STALLED_INTERVAL_MS: "1500",
    },
  });
  await cluster.upload("inbox/invoice.pdf");
});

afterAll(async () => {
  await cluster?.close();
});

function jobs(batch: string, count: number): SignJobInput[] {
  return Array.from({ length: count }, (_, index) => ({
    input: { store: "default", key: "inbox/invoice.pdf" },
    output: { store: "default", key: `signed/${batch}/${index}.pdf` },
    signer: "seal-rsa",
    idempotencyKey: `${batch}-${index}`,
  }));
}

async function waitForAll(ids: string[]) {
  return Promise.all(
    ids.map((id) => cluster.client.waitFor(id, { timeoutMs: 240_000, pollIntervalMs: 2_000 })),
  );
}

const completedCount = () => cluster.count("completed");

/** For failure messages: answered sign calls per second, from the simulator's request log. */
function billedPerSecond(): string {
  const perSecond = new Map<number, number>();
  for (const request of cluster.sim.requests()) {
    if (!request.path.endsWith("/signHash") || request.status !== 200) continue;
    const second = Math.floor(Date.parse(request.time) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  return [...perSecond.values()].join(" ");
}

async function stop(workers: WorkerProcess[]) {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGTERM");
  await Promise.all(workers.map((worker) => worker.exited));
}

describe("signing workers under failure", () => {
  it("loses no job when a worker is SIGKILLed mid-run, and re-signs at most its in-flight jobs", async () => {
    const total = 160;
    cluster.sim.resetUsage();
    // Slow signing keeps jobs in flight in the worker that is about to die.
    cluster.sim.setFaults({ routes: ["sign"], latencyMs: 100 });
    const [victim, survivor] = await Promise.all([cluster.startWorker(), cluster.startWorker()]);
    const submitted = await cluster.client.submitBulk(jobs("chaos", total));
    await expect.poll(completedCount, { timeout: 120_000, interval: 200 }).toBeGreaterThanOrEqual(40);
    victim.child.kill("SIGKILL");
    expect(await victim.exited).toBeNull();

    const results = await waitForAll(submitted.map(({ id }) => id));
    expect(results).toHaveLength(total);
    const { signatures } = cluster.sim.usage();
    expect(signatures).toBeGreaterThanOrEqual(total);
    expect(signatures - total).toBeLessThanOrEqual(CONCURRENCY);
    expect(survivor.logged("recovered a stalled job")).toBeGreaterThan(0);
    for (const index of [0, total / 2, total - 1]) {
      const report = await validate(await cluster.download(`signed/chaos/${index}.pdf`), cluster.rootPemPath);
      expect(report.failures, report.output).toEqual([]);
    }
    cluster.sim.clearFaults();
    await stop([survivor]);
  }, 300_000);

  it("completes every job through 20% 503s and 429 bursts without exceeding the global rate limit", async () => {
    const total = 120;
    const limit = 10;
    cluster.sim.resetUsage();
    cluster.sim.setFaults({
      routes: ["sign"],
      errorRate: 0.2,
      rateLimitBurst: { count: 6, retryAfterSeconds: 1 },
    });
    const workers = await Promise.all([
      cluster.startWorker({ SIGNING_RATE_LIMIT: String(limit) }),
      cluster.startWorker({ SIGNING_RATE_LIMIT: String(limit) }),
    ]);
    await writeFile(join(cluster.scratch, "not-a-pdf.pdf"), "plain text, not a PDF\n");
    await cluster.upload("inbox/not-a-pdf.pdf", join(cluster.scratch, "not-a-pdf.pdf"));
    const bad = await cluster.client.submit({
      input: { store: "default", key: "inbox/not-a-pdf.pdf" },
      signer: "seal-rsa",
    });
    const submitted = await cluster.client.submitBulk(jobs("faults", total));

    // A second burst of 429s halfway through.
    await expect.poll(completedCount, { timeout: 120_000, interval: 200 }).toBeGreaterThanOrEqual(total / 2);
    cluster.sim.setFaults({
      routes: ["sign"],
      errorRate: 0.2,
      rateLimitBurst: { count: 6, retryAfterSeconds: 1 },
    });

    const results = await waitForAll(submitted.map(({ id }) => id));
    expect(results).toHaveLength(total);
    const usage = cluster.sim.usage();
    expect(usage.signatures).toBe(total);
    expect(
      usage.maxSignCallsInOneSecond,
      `billed calls per second: ${billedPerSecond()}`,
    ).toBeLessThanOrEqual(limit);

    const sum = async (name: string, labels: Record<string, string> = {}) =>
      (await Promise.all(workers.map((worker) => scrape(worker, name, labels)))).reduce((a, b) => a + b, 0);
    expect(await sum("esign_signing_api_calls_total", { outcome: "429" })).toBeGreaterThanOrEqual(6);
    const unavailable = await sum("esign_signing_api_calls_total", { outcome: "5xx" });
    expect(unavailable).toBeGreaterThan(0);
    // Every 503 cost its job an attempt; no 429 did (they wait inside the attempt).
    expect(await sum("esign_retries_total")).toBe(unavailable);

    const failure = await cluster.client.waitFor(bad.id, { timeoutMs: 60_000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isEsignError(failure) && failure.code).toBe("E_NOT_PDF");
    expect((await cluster.client.get(bad.id)).attempts).toBe(1);
    cluster.sim.clearFaults();
    await stop(workers);
  }, 300_000);
});
