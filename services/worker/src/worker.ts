import { createContractRuntime } from "@esign/contracts";
import {
  CoalescingRedis,
  type JobEvent,
  parseFailureReason,
  parseSignJob,
  QUEUES,
  SealTemplateStore,
  type SigningQueueName,
  SigningUsageLedger,
  type SignJob,
  signingRateLimitKey,
  watchRedisPersistence,
} from "@esign/jobs";
import { createLogger, type MetricsServer, startMetricsServer } from "@esign/runtime";
import { createStores } from "@esign/storage";
import { DelayedError, type Job, Queue, Worker } from "bullmq";
import type { Logger } from "pino";
import { startBatchCoordinator } from "./batch";
import { CheckpointStore } from "./checkpoints";
import type { WorkerConfig } from "./config";
import { startContractWorker } from "./contracts";
import { ExactlyOnceSigner } from "./exactly-once-signer";
import { asEsignError, toQueueError } from "./failures";
import { ForeignJobs } from "./foreign-jobs";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics";
import { completedEvent, type FinishedJob, failedEvent, JobPublisher } from "./publish";
import { SigningRateLimiter } from "./rate-limiter";
import { TenantSeals } from "./seals";
import { type SignDocumentDeps, signDocument } from "./sign-document";
import { startSignerProbes } from "./signer-probes";
import { createSignerRegistry } from "./signer-profiles";
import { SigningUsageCounter } from "./signing-usage";

export interface SigningWorker {
  /** One BullMQ worker per consumed queue. */
  workers: Worker[];
  metrics: WorkerMetrics;
  /** Base URL of /metrics and /healthz when a metrics port is configured. */
  metricsUrl: string | undefined;
  /** Stops taking jobs, waits for running ones to finish, then closes every connection. */
  close(): Promise<void>;
}

export interface SigningWorkerOptions {
  logger?: Logger;
}

/** Longest wait for a signer probe's answer. */
const SIGNER_PROBE_TIMEOUT_MS = 5_000;

/**
 * Whether this worker hands the job back: it names a store (input or output) this worker lacks
 * (another deployment's job on a shared queue, or a worker not yet configured like the rest) and
 * has waited less than `waitMs` since it was submitted. Once it has, it fails like any job naming
 * an unknown store, which is what a misspelt store name comes to.
 */
function leavesToAnother(job: Job, parsed: SignJob, storeNames: readonly string[], waitMs: number): boolean {
  const lacking = [parsed.input.store, parsed.output.store].some((store) => !storeNames.includes(store));
  return lacking && Date.now() - job.timestamp < waitMs;
}

/**
 * The attempt running now, 1 for the first. BullMQ's `attemptsMade` counts failed attempts only:
 * an attempt cut short by a crash (the job recovered as stalled) is not in it, but every start is
 * in `attemptsStarted`.
 */
function attemptOf(job: Job): number {
  return Math.max(job.attemptsStarted, job.attemptsMade + 1);
}

/** Job fields for events of a job whose data may not even parse. */
function finishedJobOf(job: Job, queue: SigningQueueName, parsed: SignJob | undefined): FinishedJob {
  return { jobId: job.id!, queue, job: parsed ?? {} };
}

export async function createSigningWorker(
  config: WorkerConfig,
  options: SigningWorkerOptions = {},
): Promise<SigningWorker> {
  const logger = options.logger ?? createLogger({ name: "esign-worker", level: config.logLevel });
  // BullMQ's blocking connections need maxRetriesPerRequest: null; our own commands share it.
  // Coalescing: the commands of all running jobs in one event-loop turn go out in one socket write.
  const redis = new CoalescingRedis(config.redisUrl, { maxRetriesPerRequest: null });
  const stores = createStores(config.stores);
  const signers = await createSignerRegistry(config.signers).catch(async (error: unknown) => {
    await Promise.all([stores.close(), redis.quit()]);
    throw error;
  });
  const queues = new Map<SigningQueueName, Queue>(
    config.queues.map((name) => [name, new Queue(name, { connection: redis, prefix: config.prefix })]),
  );
  const webhooks = new Queue(QUEUES.webhooks, { connection: redis, prefix: config.prefix });
  const metrics = createWorkerMetrics(() => [...queues.values()]);
  const stopWatchingPersistence = watchRedisPersistence(redis, metrics.registry, logger);
  const checkpoints = new CheckpointStore(redis, config.prefix);
  const limiter = new SigningRateLimiter(redis, {
    key: signingRateLimitKey(config.prefix),
    perSecond: config.signingRateLimit,
  });
  const usage = new SigningUsageCounter(new SigningUsageLedger(redis, config.prefix), metrics);
  const deps: SignDocumentDeps = {
    stores,
    signers,
    checkpoints,
    signing: new ExactlyOnceSigner(checkpoints, limiter, metrics, usage),
    metrics,
    tenantSeals: new TenantSeals(new SealTemplateStore(redis, config.prefix)),
  };
  const publisher = new JobPublisher(redis, webhooks, config.prefix);
  const contracts = createContractRuntime({
    settings: config,
    redis,
    prefix: config.prefix,
    stores,
    defaultPublicUrl: "http://127.0.0.1:8080",
    logger,
  });
  const contractWorker =
    contracts &&
    startContractWorker({
      redis,
      prefix: config.prefix,
      concurrency: config.concurrency,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
      service: contracts.service,
      store: contracts.store,
      signing: deps,
      logger,
    });
  const batches = startBatchCoordinator({ redis, prefix: config.prefix, stores, webhooks, logger });
  const probes = startSignerProbes({
    entries: config.signerProbeIntervalMs > 0 ? signers.entries() : [],
    redis,
    prefix: config.prefix,
    intervalMs: config.signerProbeIntervalMs,
    timeoutMs: Math.min(SIGNER_PROBE_TIMEOUT_MS, Math.max(config.signerProbeIntervalMs, 1)),
    logger,
  });

  const publish = (finished: FinishedJob, event: JobEvent) =>
    metrics.time("publish", () => publisher.publish(finished, event));

  /** Filled as the workers are created, before any job runs. */
  const foreignJobs = new Map<SigningQueueName, ForeignJobs>();
  const process = (queueName: SigningQueueName) => async (job: Job, token?: string) => {
    let parsed: SignJob | undefined;
    try {
      parsed = parseSignJob(job.data);
      if (leavesToAnother(job, parsed, stores.names(), config.unknownStoreWaitMs)) {
        logger.warn(
          { jobId: job.id, queue: queueName, stores: [parsed.input.store, parsed.output.store] },
          "job names a store this worker lacks; put back for a worker that has it",
        );
        await foreignJobs.get(queueName)!.putBack(job, token);
        metrics.putBacks.inc({ queue: queueName });
        throw new DelayedError();
      }
      foreignJobs.get(queueName)!.served();
      const identity = { queue: queueName, jobId: job.id!, attempt: attemptOf(job) };
      const result = await signDocument(parsed, identity, deps);
      if (result.ltvEnabled === false) metrics.ltvNotEnabled.inc({ profile: parsed.signer });
      if (result.warnings) {
        logger.warn({ jobId: job.id, queue: queueName, warnings: result.warnings }, "signed with warnings");
      }
      await publish(
        finishedJobOf(job, queueName, parsed),
        completedEvent(finishedJobOf(job, queueName, parsed), result),
      );
      return result;
    } catch (thrown) {
      if (thrown instanceof DelayedError) throw thrown;
      const error = asEsignError(thrown);
      const final = error.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      logger[final ? "error" : "warn"](
        {
          jobId: job.id,
          queue: queueName,
          code: error.code,
          attempt: attemptOf(job),
          final,
          err: error,
        },
        final ? "job failed" : "job attempt failed; will retry",
      );
      if (final) {
        const failure = parseFailureReason(toQueueError(error).message);
        await publish(
          finishedJobOf(job, queueName, parsed),
          failedEvent(finishedJobOf(job, queueName, parsed), failure, attemptOf(job)),
        ).catch((publishError: unknown) =>
          logger.error({ err: publishError, jobId: job.id }, "cannot publish job.failed"),
        );
      }
      throw toQueueError(error);
    }
  };

  /** A completed job delivered one signature (paid, for remote profiles). */
  const countDelivered = async (job: Job) => {
    const entry = signers.find((job.data as Partial<SignJob>).signer);
    if (entry) await usage.count(entry, "delivered");
  };

  const workers = config.queues.map((queueName) => {
    const worker = new Worker(queueName, process(queueName), {
      connection: redis,
      prefix: config.prefix,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
    });
    foreignJobs.set(queueName, new ForeignJobs(worker, redis));
    worker.on("completed", (job) => {
      metrics.jobs.inc({ queue: queueName, state: "completed" });
      countDelivered(job).catch((error: unknown) =>
        logger.warn({ err: error, jobId: job.id }, "cannot count the delivered signature"),
      );
      // Only now is the outcome recorded: until here a crash could have retried the job.
      checkpoints
        .clear(queueName, job.id!)
        .catch((error: unknown) =>
          logger.warn({ err: error, jobId: job.id }, "cannot clear checkpoint; it expires on its own"),
        );
    });
    worker.on("failed", (job) => {
      if (job?.finishedOn) metrics.jobs.inc({ queue: queueName, state: "failed" });
      else if (job) metrics.retries.inc();
    });
    worker.on("stalled", (jobId) => logger.warn({ jobId, queue: queueName }, "recovered a stalled job"));
    worker.on("error", (error) => logger.error({ err: error, queue: queueName }, "worker error"));
    return worker;
  });

  const metricsServer: MetricsServer | undefined =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer({
          registry: metrics.registry,
          // Paused: stepping aside after handing back jobs for a store it lacks (ForeignJobs).
          healthy: () => workers.every((worker) => worker.isRunning() || worker.isPaused()),
          port: config.metricsPort,
          host: config.metricsHost,
        });
  logger.info(
    {
      queues: config.queues,
      concurrency: config.concurrency,
      rateLimit: config.signingRateLimit,
      metrics: metricsServer?.url,
    },
    "signing worker started",
  );

  return {
    workers,
    metrics,
    metricsUrl: metricsServer?.url,
    async close() {
      logger.info("draining: finishing running jobs before closing");
      stopWatchingPersistence();
      for (const foreign of foreignJobs.values()) foreign.close();
      await Promise.all([
        ...workers.map((worker) => worker.close()),
        batches.close(),
        probes.close(),
        contractWorker?.close(),
      ]);
      await contracts?.close();
      await metricsServer?.close();
      await Promise.all([...queues.values(), webhooks].map((queue) => queue.close()));
      await Promise.all([signers.close(), stores.close()]);
      await redis.quit();
      logger.info("drained");
    },
  };
}
