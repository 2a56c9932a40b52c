import { EsignError, isEsignError } from "@esign/errors";
import {
  assertWebhookSecretGranted,
  BATCH_CHUNK,
  type BatchExpandData,
  BatchExpandDataSchema,
  BatchItemSchema,
  type BatchManifestLine,
  batchItemJob,
  batchKeys,
  childJobId,
  DEFAULT_JOB_OPTIONS,
  META,
  parseSignJob,
  SIGN_JOB_NAME,
  type SignJob,
  tenantJobObjects,
} from "@esign/jobs";
import type { StoreRegistry } from "@esign/storage";
import type { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import { readBatchItems, type SourcedItem } from "./item-sources";

export interface ExpandDeps {
  redis: Redis;
  prefix: string;
  stores: StoreRegistry;
  /** The bulk signing queue the documents go to. */
  documents: Queue;
  /** Qualified name of the coordination queue the batch's parent lives in. */
  parentQueue: string;
}

type Outcome = { job: SignJob } | { rejected: BatchManifestLine };

/**
 * Reads a batch's items and adds one signing job per item as a child of the batch, BATCH_CHUNK
 * per round trip. Progress is checkpointed with every chunk, so a retry after a crash resumes
 * where it stopped (and job ids are deterministic, so a chunk added twice collapses). While this
 * job runs, the batch cannot finish: it is a child of the batch itself.
 */
export async function expandBatch(job: Job, deps: ExpandDeps): Promise<{ items: number }> {
  const data = BatchExpandDataSchema.parse(job.data);
  const { redis, documents } = deps;
  const keys = batchKeys(data.batchId, deps.prefix);
  const [seen, lastKey] = await redis.hmget(keys.meta, META.seen, META.lastKey);
  const items = readBatchItems(
    data.items,
    { seen: Number(seen ?? 0), lastKey: lastKey ?? undefined },
    { redis, itemsKey: keys.items, stores: deps.stores, pageSize: BATCH_CHUNK },
  );
  let total = Number(seen ?? 0);
  try {
    for await (const chunk of chunksOf(items, BATCH_CHUNK)) {
      if (await redis.hget(keys.meta, META.cancelRequested)) break;
      const outcomes = chunk.map((item) => ({ item, outcome: outcomeOf(item, data) }));
      await documents.addBulk(
        outcomes.flatMap(({ item, outcome }) =>
          "job" in outcome
            ? [
                {
                  name: SIGN_JOB_NAME,
                  data: outcome.job,
                  opts: {
                    ...DEFAULT_JOB_OPTIONS,
                    jobId: childJobId(data.batchId, item.index),
                    parent: { id: data.batchId, queue: deps.parentQueue },
                    // A document that fails does not fail the batch: it becomes a manifest line.
                    ignoreDependencyOnFailure: true,
                  },
                },
              ]
            : [],
        ),
      );
      const rejected = outcomes.flatMap(({ outcome }) =>
        "rejected" in outcome ? [JSON.stringify(outcome.rejected)] : [],
      );
      const last = chunk[chunk.length - 1]!;
      total = last.index + 1;
      // Checkpoint and rejections in one transaction: a retry neither loses nor repeats them.
      const checkpoint = redis.multi().hset(keys.meta, META.seen, total);
      if (last.listedKey) checkpoint.hset(keys.meta, META.lastKey, last.listedKey);
      if (rejected.length > 0) {
        checkpoint.rpush(keys.rejected, ...rejected).hincrby(keys.meta, META.rejected, rejected.length);
      }
      await checkpoint.exec();
      await job.updateProgress(total);
    }
  } catch (error) {
    const message = isEsignError(error) ? `${error.code}: ${error.message}` : String(error);
    await redis.hset(keys.meta, META.expandError, message);
    throw error;
  }
  await redis
    .multi()
    .hdel(keys.meta, META.expandError)
    .hset(keys.meta, META.expanded, "1")
    .del(keys.items)
    .exec();
  return { items: total };
}

function outcomeOf(item: SourcedItem, data: BatchExpandData): Outcome {
  const reject = (error: EsignError, raw?: { input?: unknown; output?: unknown }): Outcome => ({
    rejected: {
      index: item.index,
      ...(raw && refFields(raw)),
      status: "failed",
      errorCode: error.code,
      error: error.message,
    },
  });
  if (item.unreadable) return reject(new EsignError("E_INVALID_JOB", item.unreadable));
  const parsed = BatchItemSchema.safeParse(item.raw);
  if (!parsed.success) {
    const summary = parsed.error.issues
      .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
      .join("; ");
    return reject(new EsignError("E_INVALID_JOB", `invalid item: ${summary}`), item.raw as object);
  }
  try {
    const fields = batchItemJob(parsed.data, data.options, data.batchId, data.tenant);
    // With the tenant's policy: inside its area, and an item without output signed into it too.
    const job = parseSignJob(
      data.policy ? { ...fields, ...tenantJobObjects(parsed.data, data.policy) } : fields,
    );
    if (data.policy) {
      if (data.policy.signers && !data.policy.signers.includes(job.signer)) {
        throw new EsignError(
          "E_FORBIDDEN",
          `signer profile ${JSON.stringify(job.signer)} is not granted to this tenant`,
        );
      }
      assertWebhookSecretGranted(job.callback, data.policy.webhookSecretIds ?? []);
    }
    return { job };
  } catch (error) {
    if (!isEsignError(error)) throw error;
    return reject(error, parsed.data);
  }
}

/** Only well-formed references make it into a manifest line. */
function refFields(raw: { input?: unknown; output?: unknown }): Pick<BatchManifestLine, "input" | "output"> {
  const isRef = (value: unknown): value is { store: string; key: string } =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as { store?: unknown }).store === "string" &&
    typeof (value as { key?: unknown }).key === "string";
  return {
    ...(isRef(raw.input) && { input: { store: raw.input.store, key: raw.input.key } }),
    ...(isRef(raw.output) && { output: { store: raw.output.store, key: raw.output.key } }),
  };
}

async function* chunksOf<T>(items: AsyncIterable<T>, size: number): AsyncIterable<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
