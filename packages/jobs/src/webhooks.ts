import { EsignError } from "@esign/errors";
import type { Queue } from "bullmq";
import { z } from "zod";
import type { BatchCompletedEvent } from "./batch-schemas";
import type { ContractEvent } from "./contract-jobs";
import type { Callback, JobEvent } from "./schemas";

/**
 * What a webhook message carries: an event's `type`, `timestamp` and `data`, as the receiver gets
 * it in the body. `type` is open ("job.completed", "job.failed", "batch.completed", or any future
 * event), so an older notifier still delivers events a newer worker announces.
 */
export const WebhookEventSchema = z.object({
  type: z.string().min(1, "event.type must not be empty"),
  timestamp: z.iso.datetime({ offset: true, message: "event.timestamp must be an ISO 8601 date-time" }),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

/** A job on the `esign-webhooks` queue: one message to one receiver, retried by the notifier. */
export const WebhookDeliveryJobSchema = z.object({
  /** Stable across retries; sent as `webhook-id` so receivers can deduplicate. */
  deliveryId: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9_.-]+$/, "deliveryId may only contain letters, digits, '_', '.' and '-'"),
  /** The announced job's tenant: a receiver that answers 410 is disabled for this tenant only. */
  tenant: z.string().min(1),
  /** Which of the notifier's configured secrets sign the message (`callback.secretId`); default the tenant's. */
  secretId: z.string().min(1).optional(),
  url: z.string().min(1).max(2048),
  event: WebhookEventSchema,
  /** The signing job (or batch) this delivery announces; the delivery log is kept under this id. */
  jobId: z.string().min(1).optional(),
});
export type WebhookDeliveryJob = z.infer<typeof WebhookDeliveryJobSchema>;

/** Tenant of deliveries for jobs that name none; also the notifier's secrets entry for them. */
export const DEFAULT_WEBHOOK_TENANT = "default";

/**
 * The key of the notifier's secrets configuration (`{"tenants": {KEY: {"secrets": [...]}}}`) whose
 * secrets sign `delivery`: the callback's `secretId` when it names one, else the tenant.
 */
export function webhookSecretsKey(delivery: WebhookDeliveryJob): string {
  return delivery.secretId ?? delivery.tenant;
}

/**
 * Refuses a callback naming webhook secrets its tenant was not granted. Secrets sign what the
 * receiver trusts; a tenant that could name another's `secretId` would get its own event data
 * signed with that secret, i.e. webhooks the other tenant's receiver accepts.
 */
export function assertWebhookSecretGranted(
  callback: Callback | undefined,
  grantedSecretIds: readonly string[],
): void {
  const secretId = callback?.secretId;
  if (secretId === undefined || grantedSecretIds.includes(secretId)) return;
  throw new EsignError(
    "E_FORBIDDEN",
    `callback.secretId ${JSON.stringify(secretId)} is not granted to this tenant`,
  );
}

/**
 * The delivery announcing `event` to `callback`: the one place a job's or a batch's event becomes a
 * webhook. The deliveryId is stable per job (or batch) and event type, so announcing the same
 * outcome twice (a worker that crashed after publishing) sends the receiver one message.
 */
export function webhookDelivery(
  event: JobEvent | BatchCompletedEvent | ContractEvent,
  callback: Callback,
): WebhookDeliveryJob {
  const subject =
    event.type === "batch.completed"
      ? { id: event.data.batchId, qualified: event.data.batchId }
      : event.type.startsWith("contract.")
        ? contractSubject(event as ContractEvent)
        : {
            id: (event as JobEvent).data.jobId,
            qualified: `${(event as JobEvent).data.queue}.${(event as JobEvent).data.jobId}`,
          };
  const { type, timestamp, data } = event;
  return {
    deliveryId: `${subject.qualified}.${type}`,
    tenant: data.tenant ?? DEFAULT_WEBHOOK_TENANT,
    ...(callback.secretId !== undefined && { secretId: callback.secretId }),
    url: callback.url,
    event: { type, timestamp, data },
    jobId: subject.id,
  };
}

/** The delivery log id of a contract's webhooks (`GET /v1/contracts/:id/deliveries` reads it). */
export const contractDeliveryLogId = (contractId: string) => `contract.${contractId}`;

/** A contract's deliveries are logged under `contract.<id>`; signer events are per signer. */
function contractSubject(event: ContractEvent): { id: string; qualified: string } {
  const id = contractDeliveryLogId(event.data.contractId);
  return { id, qualified: event.data.signerId ? `${id}.${event.data.signerId}` : id };
}

/** How long finished deliveries stay on the queue; a delivery enqueued again meanwhile is dropped. */
const DELIVERY_JOB_RETENTION = {
  removeOnComplete: { age: 24 * 60 * 60 },
  removeOnFail: { age: 7 * 24 * 60 * 60 },
} as const;

/**
 * Enqueues a delivery on the webhook queue with `webhook-<deliveryId>` as BullMQ job id: enqueuing
 * the same delivery twice (a producer retry) yields one job, hence one message for the receiver.
 */
export async function enqueueDelivery(queue: Queue, delivery: WebhookDeliveryJob): Promise<void> {
  const job = WebhookDeliveryJobSchema.parse(delivery);
  await queue.add(job.event.type, job, { jobId: `webhook-${job.deliveryId}`, ...DELIVERY_JOB_RETENTION });
}
