import { type Callback, type JobEvent, QUEUE_PREFIX, QUEUES } from "@esign/jobs";
import { z } from "zod";

/** BullMQ queue the worker enqueues deliveries on. */
export const WEBHOOK_QUEUE = QUEUES.webhooks;
/** Hash-tagged prefix: every queue key (and the delivery log) lands in one Redis Cluster slot. */
export const DEFAULT_QUEUE_PREFIX = QUEUE_PREFIX;

export const WebhookEventSchema = z.object({
  /** "job.completed" | "job.failed" | "batch.completed", or any future event type. */
  type: z.string().min(1, "event.type must not be empty"),
  timestamp: z.iso.datetime({ offset: true, message: "event.timestamp must be an ISO 8601 date-time" }),
  data: z.record(z.string(), z.unknown()),
});

export const WebhookDeliveryJobSchema = z.object({
  /** Stable across retries; sent as `webhook-id` so receivers can deduplicate. */
  deliveryId: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9_.-]+$/, "deliveryId may only contain letters, digits, '_', '.' and '-'"),
  tenant: z.string().min(1),
  url: z.string().min(1).max(2048),
  event: WebhookEventSchema,
  /** The signing job this delivery announces; the delivery log is kept per jobId. */
  jobId: z.string().min(1).optional(),
});

export type WebhookEvent = z.infer<typeof WebhookEventSchema>;
export type WebhookDeliveryJob = z.infer<typeof WebhookDeliveryJobSchema>;

/** Configuration key of the secrets for jobs that name neither a `callback.secretId` nor a tenant. */
export const DEFAULT_SECRETS_KEY = "default";

/**
 * The delivery announcing a signing job's event to the job's `callback`. The notifier's `tenants`
 * configuration is keyed by `callback.secretId`, else the job's tenant, else "default". The
 * deliveryId includes the event time: a job id reused later (same idempotency key after the old
 * job was removed) must not collapse into the old delivery, which `enqueueDelivery` would drop.
 */
export function deliveryForJobEvent(event: JobEvent, callback: Callback): WebhookDeliveryJob {
  const { type, timestamp, data } = event;
  return {
    deliveryId: `${data.jobId}.${type}.${Date.parse(timestamp)}`,
    tenant: callback.secretId ?? data.tenant ?? DEFAULT_SECRETS_KEY,
    url: callback.url,
    event: { type, timestamp, data },
    jobId: data.jobId,
  };
}
