import { BATCH_JOB_NAMES, BATCH_QUEUE, QUEUES } from "@esign/jobs";
import type { StoreRegistry } from "@esign/storage";
import { type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { expandBatch } from "./expand";
import { finishBatch } from "./finish";

export interface BatchCoordinatorOptions {
  /** Shared with the signing worker (maxRetriesPerRequest: null). */
  redis: Redis;
  prefix: string;
  stores: StoreRegistry;
  /** Queue of webhook deliveries, for batch.completed. */
  webhooks: Queue;
  logger: Logger;
  /** Batches expanded or finished at once by this process; each is mostly Redis round trips. */
  concurrency?: number;
}

export interface BatchCoordinator {
  worker: Worker;
  close(): Promise<void>;
}

/**
 * Consumes the batch coordination queue next to the signing queues: expands batches into signing
 * jobs and finishes them (manifest, batch.completed) once every document is done. Runs in every
 * worker process; BullMQ hands each coordination job to one of them.
 */
export function startBatchCoordinator(options: BatchCoordinatorOptions): BatchCoordinator {
  const { redis, prefix, stores, webhooks, logger } = options;
  const documents = new Queue(QUEUES.batch, { connection: redis, prefix });
  const parentQueue = `${prefix}:${BATCH_QUEUE}`;
  const worker = new Worker(
    BATCH_QUEUE,
    async (job: Job) => {
      if (job.name === BATCH_JOB_NAMES.expand)
        return expandBatch(job, { redis, prefix, stores, documents, parentQueue });
      if (job.name === BATCH_JOB_NAMES.finish)
        return finishBatch(job, { redis, prefix, stores, documents, webhooks });
      throw new Error(`unknown batch job name ${job.name}`);
    },
    { connection: redis, prefix, concurrency: options.concurrency ?? 4 },
  );
  worker.on("failed", (job, error) =>
    logger.error({ err: error, jobId: job?.id, name: job?.name }, "batch coordination job failed"),
  );
  worker.on("completed", (job) => {
    if (job.name === BATCH_JOB_NAMES.finish)
      logger.info({ batchId: job.id, summary: job.returnvalue }, "batch completed");
  });
  worker.on("error", (error) => logger.error({ err: error }, "batch coordinator error"));
  return {
    worker,
    async close() {
      await worker.close();
      await documents.close();
    },
  };
}
