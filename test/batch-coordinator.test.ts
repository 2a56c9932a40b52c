/**
 * The batch coordinator on real Redis and a real local store, without signing workers: documents
 * stay waiting, which makes expansion, progress, rejection and cancellation observable step by step.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchClient,
  type BatchManifestLine,
  BatchManifestLineSchema,
  type BatchStatus,
  eventsStreamKey,
  QUEUES,
} from "@esign/jobs";
import { createLogger } from "@esign/runtime";
import { createStores, type StoreRegistry } from "@esign/storage";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchCoordinator, startBatchCoordinator } from "../services/worker/src/batch";

const REDIS_URL = "redis://127.0.0.1:6379";
const prefix = `{esign-batch-${randomUUID().slice(0, 8)}}`;

let redis: Redis;
let scratch: string;
let stores: StoreRegistry;
let webhooks: Queue;
let documents: Queue;
let coordinator: BatchCoordinator;
let batches: BatchClient;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  scratch = await mkdtemp(join(tmpdir(), "esign-batch-coordinator-"));
  stores = createStores({ default: { type: "local", root: scratch } });
  webhooks = new Queue(QUEUES.webhooks, { connection: redis, prefix });
  documents = new Queue(QUEUES.batch, { connection: redis, prefix });
  coordinator = startBatchCoordinator({
    redis,
    prefix,
    stores,
    webhooks,
    logger: createLogger({ name: "batch-coordinator-test", level: "silent" }),
  });
  batches = new BatchClient({ connection: redis, prefix });
});

afterAll(async () => {
  await batches?.close();
  await coordinator?.close();
  await Promise.all([webhooks?.close(), documents?.close()]);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await stores?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function until(id: string, done: (status: BatchStatus) => boolean): Promise<BatchStatus> {
  for (let i = 0; i < 600; i++) {
    const status = await batches.get(id);
    if (done(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`batch ${id} never reached the expected state`);
}

async function manifestLines(status: BatchStatus): Promise<BatchManifestLine[]> {
  const text = Buffer.from(await stores.get(status.manifest.store).read(status.manifest.key)).toString();
  return text
    .trimEnd()
    .split("\n")
    .map((line) => BatchManifestLineSchema.parse(JSON.parse(line)));
}

describe("batch coordinator", () => {
  it("expands a streamed item list in chunks, rejects bad or forbidden items alone, and cancels what has not started", async () => {
    const ITEMS = 1_200;
    async function* items() {
      for (let index = 0; index < ITEMS; index++) {
        if (index === 10) yield { input: { store: "default", key: "secret/x.pdf" } };
        else if (index === 20)
          yield {
            input: { store: "default", key: "ok/same.pdf" },
            output: { store: "default", key: "ok/same.pdf" },
          };
        else if (index === 30 || index === 31)
          yield {
            input: { store: "default", key: `ok/${index}.pdf` },
            callback: {
              url: "https://erp.example.com/hooks",
              secretId: index === 30 ? "other-hook" : "own-hook",
            },
          };
        else if (index === 40)
          yield { input: { store: "default", key: "ok/40.pdf" }, pdfPassword: { secret: "hr" } };
        else
          yield { input: { store: "default", key: `ok/${index}.pdf` }, level: index % 2 ? "B-B" : undefined };
      }
    }
    const { id } = await batches.create(
      {
        items: items(),
        options: { signer: "seal", pdfPassword: { secret: "invoices" }, metadata: { night: "2026-11-27" } },
      },
      { policy: { stores: { default: ["ok/", "signed/ok/"] }, webhookSecretIds: ["own-hook"] } },
    );

    const running = await until(id, (status) => status.state === "running");
    expect(running.counts).toEqual({
      total: ITEMS,
      pending: ITEMS - 3,
      completed: 0,
      failed: 3,
      cancelled: 0,
    });
    expect(running.etaSeconds).toBeNull();
    const child = await documents.getJob(`${id}.5`);
    expect(child!.data).toMatchObject({
      input: { store: "default", key: "ok/5.pdf" },
      output: { store: "default", key: "signed/ok/5.pdf" },
      signer: "seal",
      pdfPassword: { secret: "invoices" },
      level: "B-B",
      metadata: { night: "2026-11-27", batchId: id },
    });
    // An item's own password reference wins over the batch's.
    expect((await documents.getJob(`${id}.40`))!.data.pdfPassword).toEqual({ secret: "hr" });

    expect(await batches.cancel(id)).toMatchObject({ cancelled: ITEMS - 3 });
    const finished = await until(
      id,
      (status) => status.state === "cancelled" && status.finishedAt !== undefined,
    );
    expect(finished.counts).toEqual({
      total: ITEMS,
      pending: 0,
      completed: 0,
      failed: 3,
      cancelled: ITEMS - 3,
    });
    expect((await documents.getJobCounts("waiting")).waiting).toBe(0);

    const lines = await manifestLines(finished);
    expect(lines).toHaveLength(ITEMS);
    expect(new Set(lines.map((line) => line.index)).size).toBe(ITEMS);
    const byIndex = new Map(lines.map((line) => [line.index, line]));
    expect(byIndex.get(10)).toMatchObject({ status: "failed", errorCode: "E_FORBIDDEN" });
    expect(byIndex.get(20)).toMatchObject({ status: "failed", errorCode: "E_INVALID_JOB" });
    expect(byIndex.get(30)).toMatchObject({ status: "failed", errorCode: "E_FORBIDDEN" });
    expect(byIndex.get(31)).toMatchObject({ status: "cancelled" });
    expect(byIndex.get(5)).toEqual({
      index: 5,
      jobId: `${id}.5`,
      input: { store: "default", key: "ok/5.pdf" },
      output: { store: "default", key: "signed/ok/5.pdf" },
      status: "cancelled",
    });
  });

  it("reads a JSON Lines manifest, reports unreadable lines, and announces batch.completed on the stream and by webhook", async () => {
    await stores
      .get("default")
      .write("lists/tonight.jsonl", [
        Buffer.from(
          [
            JSON.stringify({ input: { store: "default", key: "a.pdf" } }),
            "{ not json",
            "",
            JSON.stringify({ input: { store: "default", key: "b.pdf" }, signer: "other-seal" }),
          ].join("\n"),
        ),
      ]);
    const { id } = await batches.create({
      itemsManifest: { store: "default", key: "lists/tonight.jsonl" },
      options: { signer: "seal" },
      callback: { url: "https://erp.example.com/hooks/esign", secretId: "erp-hooks" },
      tenant: "acme",
    });
    const running = await until(id, (status) => status.state === "running");
    expect(running.counts).toMatchObject({ total: 3, pending: 2, failed: 1 });
    expect((await documents.getJob(`${id}.2`))!.data.signer).toBe("other-seal");

    await batches.cancel(id);
    const finished = await until(id, (status) => status.finishedAt !== undefined);
    expect(finished.manifest).toEqual({ store: "default", key: `lists/tonight.jsonl.${id}.result.jsonl` });
    const lines = await manifestLines(finished);
    expect(lines.map((line) => [line.index, line.status]).sort()).toEqual([
      [0, "cancelled"],
      [1, "failed"],
      [2, "cancelled"],
    ]);

    const entries = await redis.xrange(eventsStreamKey(prefix), "-", "+");
    const announced = entries
      .map(([, fields]) => JSON.parse(fields[fields.indexOf("event") + 1]!))
      .filter((event) => event.type === "batch.completed" && event.data.batchId === id);
    expect(announced).toHaveLength(1);
    expect(announced[0].data).toMatchObject({
      tenant: "acme",
      counts: finished.counts,
      manifest: finished.manifest,
    });
    const delivery = await webhooks.getJob(`webhook-${id}.batch.completed`);
    expect(delivery!.data).toMatchObject({
      tenant: "acme",
      secretId: "erp-hooks",
      url: "https://erp.example.com/hooks/esign",
      event: { type: "batch.completed", data: { batchId: id } },
    });
  });

  it("refuses a batch with two item sources or an invalid item before enqueueing anything", async () => {
    await expect(
      batches.create({ items: [], itemsManifest: { store: "default", key: "lists/tonight.jsonl" } }),
    ).rejects.toMatchObject({ code: "E_INVALID_JOB" });
    await expect(
      batches.create({ items: [{ input: { store: "default", key: "../etc/passwd" } }] }),
    ).rejects.toMatchObject({
      code: "E_INVALID_JOB",
    });
    expect(await redis.keys(`${prefix}:batch:*:items`)).toEqual([]);
  });
});
