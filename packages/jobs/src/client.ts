import { randomUUID } from "node:crypto";
import type { EventEmitter } from "node:events";
import { EsignError } from "@esign/errors";
import type { TenantStoragePolicy } from "@esign/storage";
import { type ConnectionOptions, Job, type JobsOptions, Queue, QueueEvents } from "bullmq";
import type { Cluster, Redis } from "ioredis";
import { addBefore } from "./add-before";
import { BoundedRedis } from "./bounded-redis";
import { QUEUE_PREFIX, QUEUES, SIGN_JOB_NAME, SIGNING_QUEUES, type SigningQueueName } from "./constants";
import {
  type JobFailure,
  parseFailureReason,
  type SignJob,
  type SignJobInput,
  type SignResult,
  SignResultSchema,
  tenantJobObjects,
} from "./schemas";
import { InvalidJobError, parseSignJob } from "./validate";

const HOUR = 3600;

/**
 * Retries: exponential backoff with jitter, so a signing-service outage is not hammered by every
 * worker in lock-step (5 s, 10 s, 20 s ... about 10 minutes over 8 attempts).
 * Retention: a finished job keeps its id, and with it its idempotency key, for as long as it is
 * retained: two days for completed jobs is the window in which resubmissions collapse.
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: "exponential", delay: 5_000, jitter: 0.5 },
  removeOnComplete: { age: 48 * HOUR },
  removeOnFail: { age: 14 * 24 * HOUR },
} as const satisfies JobsOptions;

/** addBulk sends one MULTI per chunk: big enough for throughput, small enough not to stall Redis. */
const BULK_CHUNK = 500;
const DEFAULT_POLL_INTERVAL_MS = 2_000;

export interface SigningClientOptions {
  /** ioredis options or instance (Redis or Cluster). */
  connection: ConnectionOptions;
  /**
   * The connection whose duplicates `waitFor` and `on` block on (QueueEvents); default
   * `connection`. Give one when `connection` is bounded (a BoundedRedis): BullMQ refuses a
   * connection with a retry limit for blocking reads, which must wait and retry forever.
   */
  eventsConnection?: ConnectionOptions;
  /** BullMQ prefix; keep it a `{hash tag}` on Redis Cluster. Default `{esign}`. */
  prefix?: string;
  /** Overrides of DEFAULT_JOB_OPTIONS for every job this client submits. */
  jobOptions?: Pick<JobsOptions, "attempts" | "backoff" | "removeOnComplete" | "removeOnFail">;
  /**
   * Background connection errors (reconnects, a failed blocking read). Calls that fail because of
   * them reject with E_UNAVAILABLE anyway; without a listener these would be unhandled 'error' events,
   * which crash a Node process.
   */
  onError?: (error: Error) => void;
}

export interface SubmitOptions {
  /** Default: `esign-sign` for `submit`, `esign-batch` for `submitBulk`. */
  queue?: SigningQueueName;
  /** Milliseconds to wait before the job becomes available to workers. */
  delay?: number;
  /** BullMQ priority within the queue, 1 (highest) to 2 097 152; unset jobs go first. */
  priority?: number;
  attempts?: number;
  /**
   * The submitting tenant's stores and prefixes: inputs and outputs outside them are refused
   * (E_FORBIDDEN), and a job without an output is signed into `signed/` inside the tenant's area
   * (`defaultOutputRef`). Producers that act for a prefix-limited tenant pass it.
   */
  policy?: TenantStoragePolicy;
}

export interface Submitted {
  id: string;
  queue: SigningQueueName;
}

export type JobStateName =
  | "waiting"
  | "prioritized"
  | "delayed"
  | "waiting-children"
  | "active"
  | "completed"
  | "failed"
  | "unknown";

export interface JobStatus extends Submitted {
  state: JobStateName;
  /** Attempts started so far. */
  attempts: number;
  job: SignJob;
  result?: SignResult;
  /** Set once the job has failed for good. */
  error?: JobFailure;
}

export interface CompletedNotice extends Submitted {
  /** Undefined when the worker's return value is not a v1 SignResult; `get(id)` explains. */
  result: SignResult | undefined;
}

export interface FailedNotice extends Submitted {
  error: JobFailure;
}

export interface WaitOptions {
  timeoutMs: number;
  queue?: SigningQueueName;
  /** Safety net beside QueueEvents (a dropped connection, a trimmed events stream). */
  pollIntervalMs?: number;
}

/** States in which a job has not started, so removing it cancels it cleanly. */
const CANCELLABLE_STATES = new Set<string>(["waiting", "prioritized", "delayed", "waiting-children"]);

/**
 * The producer side: validates jobs against the v1 schema and enqueues them on the BullMQ queues
 * the worker consumes, then reports their outcome.
 */
export class SigningClient {
  private readonly connection: ConnectionOptions;
  private readonly eventsConnection: ConnectionOptions;
  private readonly prefix: string;
  private readonly jobOptions: JobsOptions;
  private readonly onError: (error: Error) => void;
  private readonly queues = new Map<SigningQueueName, Queue>();
  private readonly queueEvents = new Map<SigningQueueName, Promise<QueueEvents>>();

  constructor(options: SigningClientOptions) {
    this.connection = options.connection;
    this.eventsConnection = options.eventsConnection ?? options.connection;
    this.prefix = options.prefix ?? QUEUE_PREFIX;
    this.jobOptions = { ...DEFAULT_JOB_OPTIONS, ...options.jobOptions };
    this.onError = options.onError ?? (() => undefined);
  }

  /**
   * Enqueues one job. With an idempotency key the job id is that key, and submitting it again
   * while the first job is retained returns the same id without enqueueing anything.
   */
  async submit(job: SignJobInput, options: SubmitOptions = {}): Promise<Submitted> {
    const data = parseTenantJob(job, options.policy);
    const queueName = options.queue ?? QUEUES.sign;
    const id = jobIdOf(data);
    const [elsewhere] = await this.alreadyInOtherQueue([data], queueName);
    if (elsewhere) return elsewhere;
    await queueCall(`enqueueing job ${id}`, () =>
      this.connection instanceof BoundedRedis
        ? this.addBefore(this.connection.deadline(), queueName, [
            { data, options: this.optionsFor(id, options) },
          ])
        : this.queue(queueName)
            .add(SIGN_JOB_NAME, data, this.optionsFor(id, options))
            .then(() => undefined),
    );
    return { id, queue: queueName };
  }

  /** Adds the jobs in one transaction that adds nothing if Redis runs it after `deadline`. */
  private async addBefore(
    deadline: number,
    queueName: SigningQueueName,
    jobs: readonly { data: SignJob; options: JobsOptions }[],
  ): Promise<void> {
    if (jobs.length === 0) return;
    const queue = this.queue(queueName);
    const client = (await queue.client) as unknown as Redis | Cluster;
    await addBefore(
      client,
      deadline,
      jobs.map(({ options }) => queue.toKey(options.jobId!)),
      (transaction) =>
        Promise.all(
          jobs.map(({ data, options }) =>
            new Job(queue, SIGN_JOB_NAME, data, options, options.jobId).addJob(transaction),
          ),
        ),
    );
  }

  /**
   * Enqueues many jobs, `BULK_CHUNK` per round trip. Every job is validated before the first one
   * is enqueued, so a bad job in the list enqueues nothing. Returns the ids in input order.
   */
  async submitBulk(jobs: readonly SignJobInput[], options: SubmitOptions = {}): Promise<Submitted[]> {
    const queueName = options.queue ?? QUEUES.batch;
    const parsed = jobs.map((job, index) => {
      try {
        return parseTenantJob(job, options.policy);
      } catch (error) {
        if (error instanceof InvalidJobError)
          throw new InvalidJobError(`job #${index}: ${error.message}`, error.issues);
        throw error;
      }
    });
    const queue = this.queue(queueName);
    const submitted: Submitted[] = [];
    for (let start = 0; start < parsed.length; start += BULK_CHUNK) {
      const chunk = parsed.slice(start, start + BULK_CHUNK);
      const elsewhere = await this.alreadyInOtherQueue(chunk, queueName);
      const toAdd = chunk.flatMap((data, index) => {
        const id = jobIdOf(data);
        submitted.push(elsewhere[index] ?? { id, queue: queueName });
        return elsewhere[index] ? [] : [{ data, options: this.optionsFor(id, options) }];
      });
      await queueCall(`enqueueing jobs ${start}-${start + chunk.length - 1}`, () =>
        // Each chunk carries its own deadline: it is one round trip, bounded by the command timeout.
        this.connection instanceof BoundedRedis
          ? this.addBefore(this.connection.deadline(), queueName, toAdd)
          : queue
              .addBulk(toAdd.map(({ data, options: opts }) => ({ name: SIGN_JOB_NAME, data, opts })))
              .then(() => undefined),
      );
    }
    return submitted;
  }

  /** Current state of a job; E_NOT_FOUND if it never existed or is no longer retained. */
  async get(id: string, options: { queue?: SigningQueueName } = {}): Promise<JobStatus> {
    const { queue } = await this.find(id, options.queue);
    // State first, then the job: BullMQ records the state and the return value in one script, so a
    // job read after its state says "completed" has its result; read the other way round, the job
    // could be fetched while still active and the state a moment later, after it completed.
    const state = await queueCall(`reading job ${id}`, () => this.queue(queue).getJobState(id));
    const { job } = await this.find(id, queue);
    return statusOf(job, queue, state);
  }

  /**
   * Resolves with the job's result once it completes, or rejects with its EsignError once it fails
   * for good; E_TIMEOUT after `timeoutMs` (the job carries on). Listens before it looks, so a job
   * that finished just before the call is seen too.
   */
  async waitFor(id: string, options: WaitOptions): Promise<SignResult> {
    const queue = options.queue ?? (await this.find(id)).queue;
    const events = await this.events(queue);
    const look = async (): Promise<SignResult | undefined> => {
      // The state alone while the job runs (one small reply); the whole job only once it finished.
      const state = await queueCall(`reading job ${id}`, () => this.queue(queue).getJobState(id));
      if (state === "unknown") await this.find(id, queue);
      if (state !== "completed" && state !== "failed") return undefined;
      const status = await this.get(id, { queue });
      if (status.state === "completed") {
        if (!status.result) throw invalidResult(id);
        return status.result;
      }
      if (status.state === "failed") {
        const { code, message, permanent } = status.error!;
        throw new EsignError(code, message, { permanent });
      }
      return undefined;
    };
    // BullMQ adds the completed event in the script that completes the job, with its return value:
    // the event is as true as the job's state, so it answers without reading the job back.
    const completed = (returnvalue: unknown): SignResult => {
      const result = SignResultSchema.safeParse(returnvalue);
      if (!result.success) throw invalidResult(id);
      return result.data;
    };
    return waitForJobOutcome(events, id, options, look, completed);
  }

  /**
   * Removes a job that has not started. Returns `cancelled: false` with the state it is in when it
   * is already running or finished (a running signature cannot be taken back).
   */
  async cancel(
    id: string,
    options: { queue?: SigningQueueName } = {},
  ): Promise<{ cancelled: boolean; state: JobStateName }> {
    const { job } = await this.find(id, options.queue);
    const state = await queueCall(`reading job ${id}`, () => job.getState());
    if (!CANCELLABLE_STATES.has(state)) return { cancelled: false, state };
    try {
      await job.remove();
      return { cancelled: true, state };
    } catch {
      // A worker took it between getState and remove: it holds the lock, so it stays.
      return { cancelled: false, state: await queueCall(`reading job ${id}`, () => job.getState()) };
    }
  }

  /**
   * The most recently failed jobs of both signing queues, newest first, at most `limit` that
   * `include` accepts (a tenant's own); `scan` bounds how many failed jobs are read to find them.
   */
  async recentFailed(
    options: { limit: number; scan?: number; include?: (status: JobStatus) => boolean } = { limit: 50 },
  ): Promise<(JobStatus & { failedAt: string })[]> {
    const scan = options.scan ?? 1000;
    const failed = await Promise.all(
      SIGNING_QUEUES.map(async (queue) => {
        const jobs = await queueCall("listing failed jobs", () => this.queue(queue).getFailed(0, scan - 1));
        return jobs.map((job) => ({ ...statusOf(job, queue, "failed"), failedAt: job.finishedOn ?? 0 }));
      }),
    );
    return failed
      .flat()
      .filter((status) => options.include?.(status) ?? true)
      .sort((a, b) => b.failedAt - a.failedAt)
      .slice(0, options.limit)
      .map((status) => ({ ...status, failedAt: new Date(status.failedAt).toISOString() }));
  }

  /**
   * Runs a job that failed for good once more, with a fresh set of attempts (an operator's call,
   * after fixing what made it fail). Any other state is refused with `retried: false`.
   */
  async retry(id: string): Promise<{ retried: boolean; state: JobStateName }> {
    const { job } = await this.find(id);
    const state = await queueCall(`reading job ${id}`, () => job.getState());
    if (state !== "failed") return { retried: false, state: state as JobStateName };
    await queueCall(`retrying job ${id}`, () =>
      job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true }),
    );
    return {
      retried: true,
      state: (await queueCall(`reading job ${id}`, () => job.getState())) as JobStateName,
    };
  }

  /** Calls `handler` for every job of the signing queues that completes; returns an unsubscribe function. */
  on(event: "completed", handler: (notice: CompletedNotice) => void): Promise<() => void>;
  /** Calls `handler` for every job of the signing queues that fails for good. */
  on(event: "failed", handler: (notice: FailedNotice) => void): Promise<() => void>;
  async on(
    event: "completed" | "failed",
    handler: ((notice: CompletedNotice) => void) | ((notice: FailedNotice) => void),
  ): Promise<() => void> {
    const subscriptions = await Promise.all(
      SIGNING_QUEUES.map(async (queue) => {
        const events = await this.events(queue);
        const listener =
          event === "completed"
            ? ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) =>
                (handler as (notice: CompletedNotice) => void)({
                  id: jobId,
                  queue,
                  result: SignResultSchema.safeParse(returnvalue).data,
                })
            : ({ jobId, failedReason }: { jobId: string; failedReason: string }) =>
                (handler as (notice: FailedNotice) => void)({
                  id: jobId,
                  queue,
                  error: parseFailureReason(failedReason),
                });
        events.on(event, listener);
        return () => events.off(event, listener);
      }),
    );
    return () => {
      for (const unsubscribe of subscriptions) unsubscribe();
    };
  }

  async close(): Promise<void> {
    const events = (await Promise.allSettled(this.queueEvents.values())).flatMap((settled) =>
      settled.status === "fulfilled" ? [settled.value] : [],
    );
    await Promise.all([
      ...events.map((each) => each.close()),
      ...[...this.queues.values()].map((queue) => queue.close()),
    ]);
    this.queues.clear();
    this.queueEvents.clear();
  }

  /**
   * BullMQ collapses duplicate ids within one queue only. A document resubmitted to the other
   * signing queue with the same idempotency key would be signed twice, so look there first. The
   * lookups are sent back to back on one connection; a race between two producers submitting the
   * same key to the two queues at the same moment remains possible.
   */
  private async alreadyInOtherQueue(
    jobs: readonly SignJob[],
    queueName: SigningQueueName,
  ): Promise<(Submitted | undefined)[]> {
    const other = queueName === QUEUES.sign ? QUEUES.batch : QUEUES.sign;
    const queue = this.queue(other);
    return queueCall("checking idempotency keys", async () => {
      const redis = await queue.client;
      return Promise.all(
        jobs.map(async ({ idempotencyKey: id }) =>
          id && (await redis.hexists(queue.toKey(id), "data")) === 1 ? { id, queue: other } : undefined,
        ),
      );
    });
  }

  private optionsFor(id: string, options: SubmitOptions): JobsOptions {
    return {
      ...this.jobOptions,
      ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
      ...(options.delay === undefined ? {} : { delay: options.delay }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      jobId: id,
    };
  }

  private queue(name: SigningQueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on("error", this.onError);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** QueueEvents hold a blocking connection each: created on first use, shared afterwards. */
  private events(name: SigningQueueName): Promise<QueueEvents> {
    let events = this.queueEvents.get(name);
    if (!events) {
      const created = new QueueEvents(name, { connection: this.eventsConnection, prefix: this.prefix });
      created.on("error", this.onError);
      events = queueCall(`subscribing to ${name} events`, () => created.waitUntilReady()).then(
        () => created,
        async (error: unknown) => {
          // Not cached: the next call tries again (Redis may be back by then).
          this.queueEvents.delete(name);
          await created.close().catch(() => undefined);
          throw error;
        },
      );
      this.queueEvents.set(name, events);
    }
    return events;
  }

  private async find(
    id: string,
    queueName?: SigningQueueName,
  ): Promise<{ job: Job; queue: SigningQueueName }> {
    for (const name of queueName ? [queueName] : SIGNING_QUEUES) {
      const job = await queueCall(`reading job ${id}`, () => this.queue(name).getJob(id));
      if (job) return { job, queue: name };
    }
    throw new EsignError("E_NOT_FOUND", `no job ${id} (never submitted, cancelled, or no longer retained)`);
  }
}

/**
 * Waits for a job's outcome: `look` reads it (the state in Redis is the truth) and answers
 * undefined while the job runs, a value once it completed, or throws once it failed. It runs at
 * once, on the job's QueueEvents events and on a poll: a QueueEvents only hears what happens after
 * its first read of the stream, so a job that finished in between is found by the poll.
 * With `completed`, a completed event answers with `completed(returnvalue)` instead of a look.
 * E_TIMEOUT after `timeoutMs` (the job carries on).
 */
export function waitForJobOutcome<T>(
  events: QueueEvents,
  id: string,
  options: WaitOptions,
  look: () => Promise<T | undefined>,
  completed?: (returnvalue: unknown) => T,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      unsubscribe();
      clearTimeout(timeout);
      clearInterval(poll);
      outcome();
    };
    const check = () => {
      look().then(
        (value) => {
          if (value !== undefined) settle(() => resolve(value));
        },
        (error: unknown) => settle(() => reject(error)),
      );
    };
    const unsubscribe = onJobFinished(events, id, (finished) => {
      if (finished.event !== "completed" || !completed) return check();
      try {
        const value = completed(finished.returnvalue);
        settle(() => resolve(value));
      } catch (error) {
        settle(() => reject(error));
      }
    });
    const timeout = setTimeout(
      () =>
        settle(() =>
          reject(new EsignError("E_TIMEOUT", `job ${id} not finished after ${options.timeoutMs} ms`)),
        ),
      options.timeoutMs,
    );
    const poll = setInterval(check, options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    check();
  });
}

type JobFinished = { event: "completed"; returnvalue: unknown } | { event: "failed" };

/**
 * QueueEvents also emits `completed:<jobId>` / `failed:<jobId>`, which its typings do not declare;
 * listening per job keeps many concurrent waits from each seeing every event.
 */
function onJobFinished(
  events: QueueEvents,
  id: string,
  listener: (finished: JobFinished) => void,
): () => void {
  const emitter = events as unknown as EventEmitter;
  const onCompleted = ({ returnvalue }: { returnvalue: unknown }) =>
    listener({ event: "completed", returnvalue });
  const onFailed = () => listener({ event: "failed" });
  emitter.on(`completed:${id}`, onCompleted);
  emitter.on(`failed:${id}`, onFailed);
  return () => {
    emitter.off(`completed:${id}`, onCompleted);
    emitter.off(`failed:${id}`, onFailed);
  };
}

function jobIdOf(job: SignJob): string {
  return job.idempotencyKey ?? randomUUID();
}

function statusOf(job: Job, queue: SigningQueueName, state: string): JobStatus {
  const status: JobStatus = {
    id: job.id!,
    queue,
    state: state as JobStateName,
    attempts: job.attemptsStarted,
    job: job.data as SignJob,
  };
  if (state === "completed") status.result = SignResultSchema.safeParse(job.returnvalue).data;
  if (state === "failed") status.error = parseFailureReason(job.failedReason);
  return status;
}

function invalidResult(id: string): EsignError {
  return new EsignError("E_INTERNAL", `job ${id} completed with a result that is not a v1 SignResult`);
}

/** Redis failures become E_UNAVAILABLE (transient); our own errors pass through. */
export async function queueCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof EsignError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new EsignError("E_UNAVAILABLE", `${what} failed: ${detail}`, { cause: error });
  }
}

/** The job as the schema and, when given, the tenant's policy accept it. */
function parseTenantJob(job: SignJobInput, policy: TenantStoragePolicy | undefined): SignJob {
  return parseSignJob(policy ? { ...job, ...tenantJobObjects(job, policy) } : job);
}
