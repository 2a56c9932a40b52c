import { readFile } from "node:fs/promises";
import { BatchClient, type BatchManifestLine, BatchManifestLineSchema, eventsStreamKey } from "@esign/jobs";
import { validate } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, SMALL_PDF, startCluster } from "./worker-cluster";

const DOCUMENTS = 2_000;
/** Inputs that are not PDFs at all: they must fail on their own, not the batch. */
const BAD = new Set([7, 500, 1001, 1500, 1999]);
const UPLOAD_CONCURRENCY = 32;

let cluster: Cluster;
let batches: BatchClient;

/** The simulator's seal behind a CSC profile with hash batching, as an operator would configure it. */
function batchingSigners(simUrl: string): string {
  return JSON.stringify({
    "seal-rsa": {
      type: "csc",
      url: `${simUrl}/csc/v2`,
      clientId: "demo",
      clientSecret: { env: "SIM_CLIENT_SECRET" },
      credentialId: "seal-rsa",
      hashBatching: { maxHashes: 100, maxWaitMs: 20 },
    },
  });
}

const inputKey = (index: number) => `in/dept-${index % 7}/doc-${String(index).padStart(5, "0")}.pdf`;

async function uploadInputs(): Promise<void> {
  const pdf = await readFile(SMALL_PDF);
  const store = cluster.stores.get("default");
  let next = 0;
  await Promise.all(
    Array.from({ length: UPLOAD_CONCURRENCY }, async () => {
      while (next < DOCUMENTS) {
        const index = next++;
        const body = BAD.has(index) ? Buffer.from(`not a pdf #${index}\n`) : pdf;
        await store.write(inputKey(index), [body]);
      }
    }),
  );
  // Not a PDF by name: the prefix form skips it.
  await store.write("in/README.txt", [Buffer.from("inputs of the nightly batch\n")]);
}

beforeAll(async () => {
  cluster = await startCluster();
  batches = new BatchClient({ connection: cluster.redis, prefix: cluster.prefix });
  await uploadInputs();
}, 120_000);

afterAll(async () => {
  await batches?.close();
  await cluster?.close();
});

describe("nightly batch end to end (two worker processes, s3rver, simulator over CSC)", () => {
  it(`signs a ${DOCUMENTS}-document prefix batch; bad inputs fail alone; the manifest accounts for every item`, async () => {
    const env = { ESIGN_SIGNERS: batchingSigners(cluster.sim.url), WORKER_CONCURRENCY: "32" };
    const workers = await Promise.all([cluster.startWorker(env), cluster.startWorker(env)]);
    const { id } = await batches.create({
      source: { store: "default", prefix: "in/" },
      target: { store: "default", prefix: "out/" },
      options: { signer: "seal-rsa", field: { reason: "Nightly batch" } },
    });

    const status = await batches.waitFor(id, { timeoutMs: 600_000, pollIntervalMs: 2_000 });
    expect(status.state).toBe("completed");
    expect(status.counts).toEqual({
      total: DOCUMENTS,
      pending: 0,
      completed: DOCUMENTS - BAD.size,
      failed: BAD.size,
      cancelled: 0,
    });
    expect(status.manifest).toEqual({ store: "default", key: `out/${id}.manifest.jsonl` });

    const text = Buffer.from(await cluster.stores.get("default").read(status.manifest.key)).toString();
    const lines = text
      .trimEnd()
      .split("\n")
      .map((line) => BatchManifestLineSchema.parse(JSON.parse(line)));
    expect(lines).toHaveLength(DOCUMENTS);
    const byIndex = new Map<number, BatchManifestLine>(lines.map((line) => [line.index, line]));
    expect(byIndex.size).toBe(DOCUMENTS);
    // Listing order is key order, so item i is the i-th key in UTF-8 order.
    const keys = Array.from({ length: DOCUMENTS }, (_, index) => inputKey(index)).sort();
    for (const [index, line] of byIndex) {
      const input = keys[index]!;
      const original = Number(/doc-(\d+)/.exec(input)![1]);
      expect(line.input).toEqual({ store: "default", key: input });
      expect(line.output).toEqual({ store: "default", key: input.replace(/^in\//, "out/") });
      expect(line.jobId).toBe(`${id}.${index}`);
      if (BAD.has(original)) {
        expect(line.status).toBe("failed");
        expect(line.errorCode).toMatch(/^E_(NOT_PDF|PDF_CORRUPT)$/);
        expect(line.signatureId).toBeUndefined();
      } else {
        expect(line.status).toBe("completed");
        expect(line.errorCode).toBeUndefined();
        expect(Number.isNaN(Date.parse(line.signingTime!))).toBe(false);
        expect(line.signatureId).toMatch(/^[0-9a-f]{64}$/);
      }
    }

    // Exactly one billed signature per good document (hash batching merges calls, never signatures).
    expect(cluster.sim.usage().signatures).toBe(DOCUMENTS - BAD.size);

    // Outputs are real, valid signatures.
    for (const line of lines.filter((each) => each.status === "completed").slice(0, 3)) {
      const report = await validate(await cluster.download(line.output!.key), cluster.rootPemPath);
      expect(report.failures, report.output).toEqual([]);
    }
    expect(await cluster.stores.get("default").exists("out/README.txt")).toBe(false);

    // batch.completed is on the events stream, with the same counts.
    const entries = await cluster.redis.xrange(eventsStreamKey(cluster.prefix), "-", "+");
    const completed = entries.filter(([, fields]) => fields.includes("batch.completed"));
    expect(completed).toHaveLength(1);
    const event = JSON.parse(completed[0]![1][completed[0]![1].indexOf("event") + 1]!);
    expect(event.data).toMatchObject({ batchId: id, counts: status.counts, manifest: status.manifest });

    for (const worker of workers) worker.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((worker) => worker.exited))).toEqual([0, 0]);
  }, 900_000);
});
