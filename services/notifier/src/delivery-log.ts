import type { ErrorCode } from "@esign/errors";
import type { Redis } from "ioredis";
import { DEFAULT_QUEUE_PREFIX } from "./job";

export type DeliveryOutcome = "delivered" | "retrying" | "failed" | "skipped";

/** One attempt to deliver one webhook, as served by `GET /v1/jobs/:id/deliveries`. */
export interface DeliveryAttempt {
  deliveryId: string;
  eventType: string;
  /** The receiver URL without credentials and query. */
  url: string;
  /** 1-based; constant `webhook-id` (= deliveryId) across attempts. */
  attempt: number;
  /** When the attempt started (ISO 8601). */
  at: string;
  durationMs: number;
  outcome: DeliveryOutcome;
  statusCode?: number;
  error?: { code: ErrorCode; message: string };
  /** When the next attempt is due, for outcome "retrying". */
  nextRetryAt?: string;
}

export interface DeliveryLogOptions {
  /** BullMQ prefix; the log shares the queue's hash tag and therefore its Cluster slot. */
  prefix?: string;
}

export interface DeliveryLogLimits {
  /** Entries kept per job: the newest win. */
  size: number;
  /** The log expires this long after its last entry. */
  ttlSeconds: number;
}

function logKey(logId: string, prefix = DEFAULT_QUEUE_PREFIX): string {
  return `${prefix}:webhook-deliveries:${logId}`;
}

/** Appends an attempt to the capped, expiring log of `logId` (the jobId, else the deliveryId). */
export async function recordAttempt(
  redis: Redis,
  logId: string,
  entry: DeliveryAttempt,
  limits: DeliveryLogLimits,
  options: DeliveryLogOptions = {},
): Promise<void> {
  const key = logKey(logId, options.prefix);
  await redis
    .multi()
    .rpush(key, JSON.stringify(entry))
    .ltrim(key, -limits.size, -1)
    .expire(key, limits.ttlSeconds)
    .exec();
}

/** Every recorded delivery attempt for a signing job, oldest first. */
export async function getDeliveries(
  redis: Redis,
  jobId: string,
  options: DeliveryLogOptions = {},
): Promise<DeliveryAttempt[]> {
  const entries = await redis.lrange(logKey(jobId, options.prefix), 0, -1);
  return entries.map((entry) => JSON.parse(entry) as DeliveryAttempt);
}
