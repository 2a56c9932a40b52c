import type { Cluster, Redis } from "ioredis";
import { z } from "zod";
import { webhookDeliveryLogKey } from "./constants";
import { ErrorCodeSchema } from "./schemas";

export const DeliveryOutcomeSchema = z.enum(["delivered", "retrying", "failed", "skipped"]);
export type DeliveryOutcome = z.infer<typeof DeliveryOutcomeSchema>;

/**
 * One attempt to deliver one webhook: written by the notifier, served by `GET /v1/jobs/:id/deliveries`.
 */
export const DeliveryAttemptSchema = z.object({
  deliveryId: z.string(),
  eventType: z.string(),
  /** The receiver URL without credentials and query. */
  url: z.string(),
  /** 1-based; the `webhook-id` (= deliveryId) stays the same across attempts. */
  attempt: z.int().min(1),
  /** When the attempt started (ISO 8601). */
  at: z.string(),
  durationMs: z.number().min(0),
  outcome: DeliveryOutcomeSchema,
  statusCode: z.int().optional(),
  error: z.object({ code: ErrorCodeSchema, message: z.string() }).optional(),
  /** When the next attempt is due, for outcome "retrying". */
  nextRetryAt: z.string().optional(),
});
export type DeliveryAttempt = z.infer<typeof DeliveryAttemptSchema>;

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

/** Appends an attempt to the capped, expiring log of `logId` (the jobId, else the deliveryId). */
export async function recordDeliveryAttempt(
  redis: Redis | Cluster,
  logId: string,
  entry: DeliveryAttempt,
  limits: DeliveryLogLimits,
  options: DeliveryLogOptions = {},
): Promise<void> {
  const key = webhookDeliveryLogKey(logId, options.prefix);
  await redis
    .multi()
    .rpush(key, JSON.stringify(entry))
    .ltrim(key, -limits.size, -1)
    .expire(key, limits.ttlSeconds)
    .exec();
}

/** Every recorded delivery attempt for a signing job (or batch), oldest first. */
export async function getDeliveries(
  redis: Redis | Cluster,
  jobId: string,
  options: DeliveryLogOptions = {},
): Promise<DeliveryAttempt[]> {
  const entries = await redis.lrange(webhookDeliveryLogKey(jobId, options.prefix), 0, -1);
  return entries.map((entry) => JSON.parse(entry) as DeliveryAttempt);
}
