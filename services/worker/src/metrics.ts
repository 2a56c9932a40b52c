import type { Queue } from "bullmq";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const STAGES = ["fetch", "prepare", "sign", "embed", "verify", "upload", "publish"] as const;
export type Stage = (typeof STAGES)[number];

/** Queue states exported for KEDA and dashboards; `retrying` is the part of `delayed` that failed before. */
const COUNTED_STATES = [
  "waiting",
  "prioritized",
  "delayed",
  "active",
  "waiting-children",
  "completed",
  "failed",
] as const;
/** Delayed jobs inspected to count `retrying`; beyond this the gauge is a lower bound. */
const RETRYING_SAMPLE = 1000;

export type ApiOutcome = "ok" | "429" | "5xx" | "error";

export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<"queue" | "state">;
  stageDuration: Histogram<"stage">;
  apiCalls: Counter<"backend" | "outcome">;
  /** Paid signatures of remote profiles by kind (SIGNING_USAGE_KINDS of @esign/jobs), this process only. */
  signingUsage: Counter<"profile" | "kind">;
  retries: Counter;
  /** Jobs naming a store this worker lacks, handed back for a worker that has it. */
  putBacks: Counter<"queue">;
  rateLimitWait: Counter;
  bytesHashed: Counter;
  /** Completed B-LT/B-LTA jobs whose output is not "LTV enabled", by signer profile. */
  ltvNotEnabled: Counter<"profile">;
  /** Times `work` as `stage`, failures included. */
  time<T>(stage: Stage, work: () => Promise<T>): Promise<T>;
}

/**
 * One registry per worker instance, so an all-in-one process embedding the worker and the API
 * can serve both without name clashes in the global registry.
 */
export function createWorkerMetrics(queues: () => Queue[]): WorkerMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  const stageDuration = new Histogram({
    name: "esign_stage_duration_seconds",
    help: "Time per pipeline stage",
    labelNames: ["stage"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const metrics: WorkerMetrics = {
    registry,
    jobs: new Counter({
      name: "esign_jobs_total",
      help: "Signing jobs finished, by queue and state (completed, failed)",
      labelNames: ["queue", "state"],
      registers,
    }),
    stageDuration,
    apiCalls: new Counter({
      name: "esign_signing_api_calls_total",
      help: "Calls to the signing service by backend and outcome",
      labelNames: ["backend", "outcome"],
      registers,
    }),
    signingUsage: new Counter({
      name: "esign_signing_usage_total",
      help: "Signatures of remote signer profiles: calls (asked for), answered, replayed (for an idempotency key, not billed again), delivered (in completed jobs' outputs)",
      labelNames: ["profile", "kind"],
      registers,
    }),
    retries: new Counter({
      name: "esign_retries_total",
      help: "Job attempts that failed and were scheduled again",
      registers,
    }),
    putBacks: new Counter({
      name: "esign_jobs_put_back_total",
      help: "Jobs naming a store this worker lacks, put back for a worker that has it, by queue",
      labelNames: ["queue"],
      registers,
    }),
    rateLimitWait: new Counter({
      name: "esign_rate_limit_wait_seconds_total",
      help: "Time jobs spent waiting for the signing-service rate limiter",
      registers,
    }),
    bytesHashed: new Counter({
      name: "esign_bytes_hashed_total",
      help: "Bytes run through the document digest and its verification",
      registers,
    }),
    ltvNotEnabled: new Counter({
      name: "esign_ltv_not_enabled_total",
      help: 'Completed B-LT/B-LTA jobs whose output Acrobat would not show as "LTV enabled", by signer profile',
      labelNames: ["profile"],
      registers,
    }),
    async time(stage, work) {
      const end = stageDuration.startTimer({ stage });
      try {
        return await work();
      } finally {
        end();
      }
    },
  };
  registerQueueGauges(registry, queues);
  return metrics;
}

/** Queue-wide gauges, read from Redis at scrape time (every replica reports the same values). */
function registerQueueGauges(registry: Registry, queues: () => Queue[]): void {
  new Gauge({
    name: "esign_queue_jobs",
    help: "Jobs per queue and state, queue-wide; retrying is a subset of delayed",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      for (const queue of queues()) {
        const counts = await queue.getJobCounts(...COUNTED_STATES);
        for (const state of COUNTED_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
        const delayed = await queue.getDelayed(0, RETRYING_SAMPLE - 1);
        this.set(
          { queue: queue.name, state: "retrying" },
          delayed.filter((job) => job.attemptsMade > 0).length,
        );
      }
    },
  });
  new Gauge({
    name: "esign_queue_oldest_waiting_age_seconds",
    help: "Age of the oldest job waiting or prioritized (0 when none)",
    labelNames: ["queue"],
    registers: [registry],
    async collect() {
      for (const queue of queues()) {
        const [oldestWaiting] = await queue.getJobs(["wait"], 0, 0, true);
        // Prioritized jobs are ordered by priority, not age: the next one to run stands in for them.
        const [firstPrioritized] = await queue.getJobs(["prioritized"], 0, 0, true);
        const timestamps = [oldestWaiting, firstPrioritized].flatMap((job) => (job ? [job.timestamp] : []));
        const oldest = timestamps.length > 0 ? Math.min(...timestamps) : Date.now();
        this.set({ queue: queue.name }, Math.max(0, (Date.now() - oldest) / 1000));
      }
    },
  });
}
