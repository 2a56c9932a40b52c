import type { BatchItem, BatchItemOptions } from "./batch-schemas";
import { QUEUE_PREFIX } from "./constants";
import type { SignJobInput } from "./schemas";

/**
 * Batch coordination queue: each batch's parent job ("finish", runs once every document is done)
 * and its "expand" child (turns the item source into signing jobs). The documents themselves are
 * ordinary signing jobs on `esign-batch`.
 */
export const BATCH_QUEUE = "esign-batches";

export const BATCH_JOB_NAMES = { finish: "batch.finish", expand: "batch.expand" } as const;

/** Metadata key that ties a document's job (and its events) to its batch. */
export const BATCH_METADATA_KEY = "batchId";

/** Redis keys of one batch, under the queue prefix so they share its Redis Cluster slot. */
export function batchKeys(batchId: string, prefix: string = QUEUE_PREFIX) {
  const base = `${prefix}:batch:${batchId}`;
  return {
    /** Hash: counters and the expansion checkpoint (see BatchMetaField). */
    meta: base,
    /** List: items a producer pushed, waiting to be expanded. */
    items: `${base}:items`,
    /** List: manifest lines of items refused before a job was made (bad item, forbidden key). */
    rejected: `${base}:rejected`,
    /** List: manifest lines of jobs removed by a cancellation. */
    cancelled: `${base}:cancelled`,
  };
}

/** Fields of the batch's meta hash. */
export const META = {
  /** Items read from the source so far (enqueued + rejected). */
  seen: "seen",
  rejected: "rejected",
  /** Last key listed, for resuming a prefix listing after a crash. */
  lastKey: "lastKey",
  /** "1" once every item has been read (or reading stopped). */
  expanded: "expanded",
  expandError: "expandError",
  cancelRequested: "cancelRequested",
  /** Final BatchCompletedEvent data as JSON, written by the finisher. */
  summary: "summary",
  finishedAt: "finishedAt",
} as const;

/** Deterministic, so re-expanding after a crash collapses onto the jobs already added. */
export function childJobId(batchId: string, index: number): string {
  return `${batchId}.${index}`;
}

export function expandJobId(batchId: string): string {
  return `${batchId}.expand`;
}

/** The index of a child job from its id (`<batchId>.<index>`). */
export function childIndexOf(jobId: string): number {
  return Number(jobId.slice(jobId.lastIndexOf(".") + 1));
}

/** One item with the batch's shared options filled in; item fields win, `field` and `metadata` merge. */
export function batchItemJob(
  item: BatchItem,
  options: BatchItemOptions,
  batchId: string,
  tenant: string | undefined,
): Record<string, unknown> & Partial<SignJobInput> {
  const field = options.field || item.field ? { ...options.field, ...item.field } : undefined;
  return {
    ...options,
    ...item,
    ...(field && { field }),
    metadata: { ...options.metadata, ...item.metadata, [BATCH_METADATA_KEY]: batchId },
    ...(tenant && { tenant }),
  };
}
