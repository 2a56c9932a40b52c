import {
  enqueueDelivery,
  eventsStreamKey,
  type JobEvent,
  type JobFailure,
  publishJobEvent,
  SCHEMA_VERSION,
  type SigningQueueName,
  type SignJob,
  type SignResult,
  webhookDelivery,
} from "@esign/jobs";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";

export interface FinishedJob {
  jobId: string;
  queue: SigningQueueName;
  /** What events repeat of the job; empty when its data did not even parse. */
  job: Partial<Pick<SignJob, "tenant" | "idempotencyKey" | "metadata" | "callback">>;
}

export function completedEvent(finished: FinishedJob, result: SignResult): JobEvent {
  return {
    type: "job.completed",
    schemaVersion: SCHEMA_VERSION,
    timestamp: new Date().toISOString(),
    data: { ...eventJobFields(finished), result },
  };
}

export function failedEvent(finished: FinishedJob, error: JobFailure, attempts: number): JobEvent {
  return {
    type: "job.failed",
    schemaVersion: SCHEMA_VERSION,
    timestamp: new Date().toISOString(),
    data: { ...eventJobFields(finished), error, attempts },
  };
}

function eventJobFields({ jobId, queue, job }: FinishedJob) {
  return {
    jobId,
    queue,
    ...(job.tenant && { tenant: job.tenant }),
    ...(job.idempotencyKey && { idempotencyKey: job.idempotencyKey }),
    ...(job.metadata && { metadata: job.metadata }),
  };
}

/**
 * Announces a finished job: one entry on the capped `{prefix}:events` stream, and a webhook
 * delivery for the notifier when the job has a callback. At least once: a crash between this and
 * BullMQ recording the outcome repeats it, so consumers deduplicate on `jobId` (webhooks carry a
 * stable `webhook-id` per job and outcome, and the notifier drops a repeated delivery id).
 */
export class JobPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly webhooks: Queue,
    private readonly prefix: string,
  ) {}

  async publish(finished: FinishedJob, event: JobEvent): Promise<void> {
    await publishJobEvent(this.redis, event, { stream: eventsStreamKey(this.prefix) });
    const callback = finished.job.callback;
    if (callback) await enqueueDelivery(this.webhooks, webhookDelivery(event, callback));
  }
}
