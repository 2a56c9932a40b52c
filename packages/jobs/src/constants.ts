import { createHash } from "node:crypto";
import { z } from "zod";

/**
 * Redis names shared by producers (any language), the API, the worker and the notifier.
 * The prefix is a Redis Cluster hash tag: every key BullMQ derives from it (`{esign}:esign-sign:wait`,
 * `{esign}:esign-sign:<id>`, ...) hashes to one slot, which BullMQ's multi-key Lua scripts require.
 */
export const QUEUE_PREFIX = "{esign}";

/** The prefix as a configuration field (ESIGN_QUEUE_PREFIX): deployments sharing a Redis use different ones. */
export const QueuePrefixSchema = z.string().min(1).default(QUEUE_PREFIX);

/**
 * The all-in-one's default prefix: one per data folder (`{esign-<10 hex of its absolute path>}`),
 * so that two agents with different folders on one Redis never take each other's jobs. Producers
 * read it from the agent's banner, or compute it the same way (the CLI does).
 */
export function dataDirQueuePrefix(absoluteDataDir: string): string {
  return `{esign-${createHash("sha256").update(absoluteDataDir).digest("hex").slice(0, 10)}}`;
}

export const QUEUES = {
  /** Interactive signing: one document, someone is waiting. */
  sign: "esign-sign",
  /** Bulk signing: nightly batches, throughput over latency. */
  batch: "esign-batch",
  /** Webhook deliveries (consumed by services/notifier). */
  webhooks: "esign-webhooks",
} as const;

export type SigningQueueName = typeof QUEUES.sign | typeof QUEUES.batch;
export const SIGNING_QUEUES: readonly SigningQueueName[] = [QUEUES.sign, QUEUES.batch];

/** BullMQ job name of signing jobs (BullMQ requires one; consumers may ignore it). */
export const SIGN_JOB_NAME = "sign";

/**
 * Our completion stream: one entry per finished job (`job.completed` / `job.failed`), capped.
 * It sits under the same hash tag as the queues rather than at a bare `esign:events`, so that on
 * Redis Cluster the worker can write it in the same slot as the queue keys it touches.
 */
export function eventsStreamKey(prefix: string = QUEUE_PREFIX): string {
  return `${prefix}:events`;
}

export const EVENTS_STREAM = eventsStreamKey();

/** Approximate cap of the events stream (XADD MAXLEN ~): a few nights of batches. */
export const EVENTS_STREAM_MAX_LENGTH = 1_000_000;

// The rest of the key namespace: every key the services share besides BullMQ's own, each under the
// queue prefix so that it lands in the queues' Redis Cluster slot. (Batch keys: batch-keys.ts.)

/** List: the webhook delivery attempts of one signing job or batch (`logId`), written by the notifier. */
export function webhookDeliveryLogKey(logId: string, prefix: string = QUEUE_PREFIX): string {
  return `${prefix}:webhook-deliveries:${logId}`;
}

/** Hash: receivers that answered 410 Gone, per tenant and URL; one per deployment, so HGETALL lists them. */
export function disabledWebhookEndpointsKey(prefix: string = QUEUE_PREFIX): string {
  return `${prefix}:webhook-disabled-endpoints`;
}

/** Key prefix of the signing-service rate limiter every worker shares. */
export function signingRateLimitKey(prefix: string = QUEUE_PREFIX): string {
  return `${prefix}:worker:signing-rate`;
}

/**
 * Hash: the paid-signing counters of every signer profile (signing-usage.ts), field
 * `<profile>:<kind>`; written by workers, reported by the API's GET /v1/usage.
 */
export function signingUsageKey(prefix: string = QUEUE_PREFIX): string {
  return `${prefix}:signing-usage`;
}

/** Key prefix of the API's per-key request counters, shared by every API replica. */
export function apiRateLimitKeyPrefix(prefix: string = QUEUE_PREFIX): string {
  return `${prefix}:api-rate:`;
}
