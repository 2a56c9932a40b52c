import { type WebhookDeliveryJob, WebhookDeliveryJobSchema, watchRedisPersistence } from "@esign/jobs";
import { createLogger } from "@esign/runtime";
import { DelayedError, type Job, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import type { NotifierConfig } from "./config";
import { WebhookDeliverer } from "./deliver";
import type { DeliveryCounter } from "./metrics";
import { DestinationGuard } from "./ssrf";

export interface NotifierOptions {
  logger?: Logger;
  counter?: DeliveryCounter;
  /** Where `esign_redis_persistence_enabled` goes; without one the gauge is kept but not served. */
  registry?: Registry;
}

export interface Notifier {
  worker: Worker;
  /** Stops taking jobs, lets running attempts finish, closes Redis connections. */
  close(): Promise<void>;
}

/**
 * The job data plus the attempts done so far, kept in the job's data (in Redis) rather than in
 * memory so that a delayed retry resumes with the right attempt number after a restart.
 */
type QueuedDelivery = WebhookDeliveryJob & { attemptsDone?: number };

// A crash mid-attempt leaves the job stalled; BullMQ's default (fail after one stall) would
// drop a webhook because of our own restart, so allow a few.
const MAX_STALLED_COUNT = 5;

/** Starts a BullMQ worker that delivers the jobs of the webhook queue. */
export function startNotifier(config: NotifierConfig, options: NotifierOptions = {}): Notifier {
  const logger = options.logger ?? createLogger({ name: "esign-notifier", level: config.logLevel });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const stopWatchingPersistence = watchRedisPersistence(redis, options.registry ?? new Registry(), logger);
  const deliverer = new WebhookDeliverer({
    redis,
    config,
    guard: new DestinationGuard(config),
    logger,
    counter: options.counter,
  });

  const processDelivery = async (job: Job<QueuedDelivery>, token?: string): Promise<void> => {
    const parsed = WebhookDeliveryJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const message = `invalid webhook delivery job: ${z.prettifyError(parsed.error)}`;
      logger.error({ bullJobId: job.id }, message);
      throw new UnrecoverableError(message);
    }
    const attemptsDone = Number.isSafeInteger(job.data.attemptsDone) ? job.data.attemptsDone! : 0;
    // The retry window opens when the delivery was enqueued, not at its first attempt.
    const next = await deliverer.attempt(parsed.data, attemptsDone + 1, job.timestamp);
    if (next.kind === "done") return;
    if (next.kind === "failed") throw new UnrecoverableError(next.reason);
    // A delayed job lives in Redis: the retry happens even if this process dies meanwhile.
    await job.updateData({ ...job.data, attemptsDone: attemptsDone + 1 });
    await job.moveToDelayed(next.at, token);
    throw new DelayedError();
  };

  const workerConnection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker<QueuedDelivery>(config.queueName, processDelivery, {
    connection: workerConnection,
    prefix: config.queuePrefix,
    concurrency: config.concurrency,
    maxStalledCount: MAX_STALLED_COUNT,
    // An attempt takes at most timeoutMs; keep the lock comfortably longer.
    lockDuration: Math.max(30_000, config.timeoutMs * 3),
  });
  worker.on("error", (error) => logger.error({ err: error }, "webhook worker error"));

  return {
    worker,
    async close() {
      stopWatchingPersistence();
      await worker.close();
      // Connections passed in as instances are the caller's to close: here, ours.
      await Promise.all([workerConnection.quit(), redis.quit()]);
    },
  };
}
