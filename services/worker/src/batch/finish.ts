import {
  BATCH_CHUNK,
  type BatchCompletedEvent,
  type BatchCounts,
  type BatchManifestLine,
  BatchRecordSchema,
  batchKeys,
  childIndexOf,
  enqueueDelivery,
  eventsStreamKey,
  META,
  parseFailureReason,
  publishBatchEvent,
  SCHEMA_VERSION,
  type SignJob,
  type SignResult,
  webhookDelivery,
} from "@esign/jobs";
import type { StoreRegistry } from "@esign/storage";
import type { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";

export interface FinishDeps {
  redis: Redis;
  prefix: string;
  stores: StoreRegistry;
  /** The bulk signing queue the documents went to. */
  documents: Queue;
  webhooks: Queue;
}

/** Batch bookkeeping outlives the batch by as long as its parent job is retained. */
const RETAIN_S = 14 * 24 * 3600;

/**
 * Runs once every document of the batch has finished (BullMQ moves the parent out of
 * waiting-children then): writes the result manifest, records the final counts, and announces
 * batch.completed on the events stream and to the batch's callback. Idempotent, so a retry after
 * a crash rewrites the same manifest and repeats the announcements under the same ids.
 */
export async function finishBatch(job: Job, deps: FinishDeps): Promise<BatchCompletedEvent["data"]> {
  const record = BatchRecordSchema.parse(job.data);
  const keys = batchKeys(record.batchId, deps.prefix);
  const meta = await deps.redis.hgetall(keys.meta);
  const counts: BatchCounts = {
    total: Number(meta[META.seen] ?? 0),
    pending: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
  };
  const target = deps.stores.resolve(record.manifest);
  await target.store.write(target.key, manifestChunks(job, deps, counts), {
    contentType: "application/x-ndjson",
  });

  const data: BatchCompletedEvent["data"] = {
    batchId: record.batchId,
    ...(record.tenant && { tenant: record.tenant }),
    counts,
    manifest: record.manifest,
    ...(meta[META.expandError] && { submissionError: meta[META.expandError] }),
  };
  const event: BatchCompletedEvent = {
    type: "batch.completed",
    schemaVersion: SCHEMA_VERSION,
    timestamp: new Date().toISOString(),
    data,
  };
  await deps.redis
    .multi()
    .hset(keys.meta, META.summary, JSON.stringify(data), META.finishedAt, event.timestamp)
    .expire(keys.meta, RETAIN_S)
    .del(keys.rejected, keys.cancelled)
    .exec();
  await publishBatchEvent(deps.redis, event, { stream: eventsStreamKey(deps.prefix) });
  if (record.callback) await enqueueDelivery(deps.webhooks, webhookDelivery(event, record.callback));
  return data;
}

/** The manifest as JSON Lines, BATCH_CHUNK lines per chunk, counting statuses on the way. */
async function* manifestChunks(job: Job, deps: FinishDeps, counts: BatchCounts): AsyncIterable<Uint8Array> {
  const parent = `${job.queueQualifiedName}:${job.id}`;
  const childPrefix = deps.documents.toKey("");
  const keys = batchKeys(job.id!, deps.prefix);
  const encode = (lines: BatchManifestLine[]) =>
    Buffer.from(lines.map((line) => `${JSON.stringify(line)}\n`).join(""));

  for await (const entries of hashChunks(deps.redis, `${parent}:processed`, childPrefix)) {
    const jobs = await childData(
      deps.redis,
      entries.map(([key]) => key),
    );
    counts.completed += entries.length;
    yield encode(
      entries.map(([key, value], index) => completedLine(key.slice(childPrefix.length), jobs[index], value)),
    );
  }
  for await (const entries of hashChunks(deps.redis, `${parent}:failed`, childPrefix)) {
    const jobs = await childData(
      deps.redis,
      entries.map(([key]) => key),
    );
    counts.failed += entries.length;
    yield encode(
      entries.map(([key, reason], index) => failedLine(key.slice(childPrefix.length), jobs[index], reason)),
    );
  }
  for await (const lines of listChunks(deps.redis, keys.rejected)) {
    counts.failed += lines.length;
    yield encode(lines);
  }
  for await (const lines of listChunks(deps.redis, keys.cancelled)) {
    // A job that started between cancel()'s look and its removal finished after all: it is
    // already reported by its outcome above.
    const finished = await deps.redis
      .multi(
        lines.flatMap((line) => [
          ["hexists", `${parent}:processed`, `${childPrefix}${line.jobId}`],
          ["hexists", `${parent}:failed`, `${childPrefix}${line.jobId}`],
        ]),
      )
      .exec();
    const stillCancelled = lines.filter(
      (_, index) => !finished?.[2 * index]?.[1] && !finished?.[2 * index + 1]?.[1],
    );
    counts.cancelled += stillCancelled.length;
    if (stillCancelled.length > 0) yield encode(stillCancelled);
  }
}

function completedLine(jobId: string, job: Partial<SignJob> | undefined, value: string): BatchManifestLine {
  const result = JSON.parse(value) as SignResult;
  return {
    index: childIndexOf(jobId),
    jobId,
    ...(job?.input && { input: job.input }),
    output: result.output,
    status: "completed",
    signingTime: result.signingTime,
    signatureId: result.signatureId,
  };
}

function failedLine(jobId: string, job: Partial<SignJob> | undefined, reason: string): BatchManifestLine {
  const failure = parseFailureReason(reason);
  return {
    index: childIndexOf(jobId),
    jobId,
    ...(job?.input && { input: job.input }),
    ...(job?.output && { output: job.output }),
    status: "failed",
    errorCode: failure.code,
    error: failure.message,
  };
}

/** The data of child jobs (undefined where a job is no longer retained). */
async function childData(redis: Redis, jobKeys: string[]): Promise<(Partial<SignJob> | undefined)[]> {
  const replies = await redis.multi(jobKeys.map((key) => ["hget", key, "data"])).exec();
  return (replies ?? []).map(([, value]) =>
    typeof value === "string" ? (JSON.parse(value) as SignJob) : undefined,
  );
}

/**
 * Entries of a parent's processed/failed hash that belong to documents (the expanding job is a
 * child too). The hash no longer changes once the parent runs, so HSCAN sees every entry once.
 */
async function* hashChunks(
  redis: Redis,
  key: string,
  childPrefix: string,
): AsyncIterable<[string, string][]> {
  let cursor = "0";
  do {
    const [next, flat] = await redis.hscan(key, cursor, "COUNT", BATCH_CHUNK);
    cursor = next;
    const entries: [string, string][] = [];
    for (let index = 0; index < flat.length; index += 2) {
      if (flat[index]!.startsWith(childPrefix)) entries.push([flat[index]!, flat[index + 1]!]);
    }
    if (entries.length > 0) yield entries;
  } while (cursor !== "0");
}

async function* listChunks(redis: Redis, key: string): AsyncIterable<BatchManifestLine[]> {
  for (let start = 0; ; start += BATCH_CHUNK) {
    const page = await redis.lrange(key, start, start + BATCH_CHUNK - 1);
    if (page.length > 0) yield page.map((line) => JSON.parse(line) as BatchManifestLine);
    if (page.length < BATCH_CHUNK) return;
  }
}
