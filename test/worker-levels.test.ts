import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventsStreamKey, parseJobEventEntry } from "@esign/jobs";
import { validate } from "@esign/testkit";
import { buildApi, parseApiConfig } from "esign-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, REDIS_URL, SMALL_PDF, scrape, startCluster } from "./worker-cluster";

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

  it('answers POST /v1/sign at B-LT with "x-esign-ltv-enabled: true" and no warnings header', async () => {
    const worker = await cluster.startWorker();
    const apiData = await mkdtemp(join(tmpdir(), "esign-levels-api-"));
    const adminKey = `levels-admin-${process.pid}-key`;
    const api = await buildApi({
      config: parseApiConfig({
        redisUrl: REDIS_URL,
        queuePrefix: cluster.prefix,
        dataDir: apiData,
        stores: { default: cluster.s3.config() },
        devApiKey: adminKey,
        tenants: { dev: { stores: { default: [""] }, signer: "seal-esign-api" } },
        logLevel: "warn",
      }),
    });
    try {
      await api.listen({ port: 0, host: "127.0.0.1" });
      const { port } = api.server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/v1/sign?level=B-LT`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/pdf" },
        body: await readFile(SMALL_PDF),
      });
      expect(response.status, await response.clone().text()).toBe(200);
      expect(response.headers.get("x-esign-level")).toBe("B-LT");
      expect(response.headers.get("x-esign-ltv-enabled")).toBe("true");
      expect(response.headers.get("x-esign-warnings")).toBeNull();
    } finally {
      await api.close();
      await rm(apiData, { recursive: true, force: true });
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  }, 120_000);
});
