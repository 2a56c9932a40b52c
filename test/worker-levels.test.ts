import { eventsStreamKey, parseJobEventEntry } from "@esign/jobs";
import { validate } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, scrape, startCluster } from "./worker-cluster";

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.upload("inbox/invoice.pdf");
});

afterAll(async () => {
  await cluster?.close();
});

describe("signing worker levels (worker process, the simulator's E-sign API and TSA)", () => {
  it("signs B-T, B-LT (with /DSS) and B-LTA (with a document time-stamp) into valid PDFs", async () => {
    const worker = await cluster.startWorker();
    const levels = ["B-T", "B-LT", "B-LTA"] as const;
    const submitted = await Promise.all(
      levels.map((level) =>
        cluster.client.submit({
          input: { store: "default", key: "inbox/invoice.pdf" },
          output: { store: "default", key: `signed/${level}.pdf` },
          signer: "seal-esign-api",
          level,
        }),
      ),
    );
    const results = await Promise.all(
      submitted.map(({ id }) => cluster.client.waitFor(id, { timeoutMs: 120_000, pollIntervalMs: 500 })),
    );
    expect(results.map((result) => result.level)).toEqual([...levels]);
    // Judged on the output after B-LT/B-LTA: the simulator's chain and its validation data cover it.
    expect(results.map((result) => result.ltvEnabled)).toEqual([undefined, true, true]);
    expect(results.map((result) => result.ltvGaps)).toEqual([undefined, [], []]);
    expect(results.map((result) => result.warnings)).toEqual([undefined, undefined, undefined]);
    const entries = await cluster.redis.xrange(eventsStreamKey(cluster.prefix), "-", "+");
    const completed = entries
      .map(([, fields]) => parseJobEventEntry(fields))
      .filter((event) => event.type === "job.completed");
    const ltvInEvents = submitted.map(
      ({ id }) => completed.find((event) => event.data.jobId === id)?.data.result.ltvEnabled,
    );
    expect(ltvInEvents).toEqual([undefined, true, true]);
    expect(await scrape(worker, "esign_ltv_not_enabled_total", { profile: "seal-esign-api" })).toBe(0);
    expect(cluster.sim.usage().signatures).toBe(levels.length);
    for (const level of levels) {
      const file = await cluster.download(`signed/${level}.pdf`);
      const report = await validate(file, cluster.rootPemPath);
      expect(report.failures, report.output).toEqual([]);
      if (level !== "B-T") expect(report.output).toMatch(/DSS|dss/);
      if (level === "B-LTA") expect(report.output).toMatch(/DocTimeStamp|doc-timestamp|RFC3161/i);
    }
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
  }, 300_000);
});
