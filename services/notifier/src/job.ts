import { z } from "zod";

/** BullMQ queue the worker enqueues deliveries on (will move to `@esign/jobs`). */
export const WEBHOOK_QUEUE = "esign-webhooks";
/** Hash-tagged prefix: every queue key lands in one Redis Cluster slot. */
export const DEFAULT_QUEUE_PREFIX = "{esign}";

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
