import type { Cluster, Redis } from "ioredis";
import { type BatchCompletedEvent, BatchCompletedEventSchema } from "./batch-schemas";
import { EVENTS_STREAM, EVENTS_STREAM_MAX_LENGTH } from "./constants";
import { addEventEntry } from "./events";

/**
 * Adds `batch.completed` to the events stream beside the jobs' events, with the batch id as
 * `jobId`, so readers that filter on `type` need nothing new.
 */
export async function publishBatchEvent(
  redis: Redis | Cluster,
  event: BatchCompletedEvent,
  { stream = EVENTS_STREAM, maxLength = EVENTS_STREAM_MAX_LENGTH } = {},
): Promise<string> {
  const valid = BatchCompletedEventSchema.parse(event);
  return addEventEntry(
    redis,
    { type: valid.type, jobId: valid.data.batchId, event: valid },
    { stream, maxLength },
  );
}
