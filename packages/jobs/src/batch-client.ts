import { randomUUID } from "node:crypto";
import { EsignError } from "@esign/errors";
import type { ObjectRef, TenantStoragePolicy } from "@esign/storage";
import { type ConnectionOptions, type FlowJob, FlowProducer, type JobsOptions, Queue } from "bullmq";
import type { Cluster, Redis } from "ioredis";
import { type AddTransaction, addBefore } from "./add-before";
import { BATCH_JOB_NAMES, BATCH_QUEUE, batchKeys, childIndexOf, expandJobId, META } from "./batch-keys";
import {
  type BatchCompletedEvent,
  type BatchCounts,
  type BatchExpandData,
  type BatchItem,
  BatchItemSchema,
  type BatchItemSource,
  type BatchManifestLine,
  type BatchRecord,
  type BatchSettings,
  BatchSettingsSchema,
  batchFormProblems,
} from "./batch-schemas";
import { BoundedRedis } from "./bounded-redis";
import { DEFAULT_JOB_OPTIONS, queueCall } from "./client";
import { QUEUE_PREFIX, QUEUES } from "./constants";
import { SCHEMA_VERSION } from "./schemas";
import { InvalidJobError } from "./validate";

const DAY = 24 * 3600;
/** Items per Redis round trip, when pushing items and when scanning a batch's children. */
export const BATCH_CHUNK = 500;
/** A producer that dies halfway through pushing items leaves a list nobody expands: it expires. */
const PENDING_ITEMS_TTL_S = 7 * DAY;
/** How long cancel() waits for the expanding job to notice the cancellation and stop adding jobs. */
const EXPANSION_STOP_TIMEOUT_MS = 30_000;

/** Parent and expand jobs: retried like signing jobs; kept long enough to look a batch up for days. */
const COORDINATION_JOB_OPTIONS = {
  attempts: DEFAULT_JOB_OPTIONS.attempts,
  backoff: DEFAULT_JOB_OPTIONS.backoff,
  removeOnComplete: { age: 14 * DAY },
  removeOnFail: { age: 14 * DAY },
} as const satisfies JobsOptions;

export type BatchState = "submitting" | "running" | "finishing" | "completed" | "cancelled" | "failed";

export interface BatchStatus {
  id: string;
  state: BatchState;
  tenant?: string;
  createdAt: string;
  finishedAt?: string;
  counts: BatchCounts;
  /** Documents finished per second since the batch was created. */
  throughput: number;
  /** Seconds until every pending document is done at the current throughput; null when unknown. */
  etaSeconds: number | null;
  /** Where the result manifest is (or will be) written. */
  manifest: ObjectRef;
  submissionError?: string;
}

/** A batch as a producer submits it: settings plus, for the list form, items in any (async) iterable. */
export type BatchSubmission = Partial<Omit<BatchSettings, "options">> & {
  options?: BatchSettings["options"];
  items?: Iterable<unknown> | AsyncIterable<unknown>;
};

export interface CreateBatchOptions {
  /** Batch id; default a new random one (see newBatchId). */
  id?: string;
  /** Stores and prefixes every item must stay within, the signer profiles and webhook secrets it may name (the submitting tenant's policy). */
  policy?: TenantStoragePolicy & { signers?: readonly string[]; webhookSecretIds?: readonly string[] };
}

export interface BatchClientOptions {
  connection: ConnectionOptions;
  prefix?: string;
  onError?: (error: Error) => void;
}

export function newBatchId(): string {
  return `batch-${randomUUID()}`;
}

/** Where the result manifest goes when the request names no place: beside the batch's outputs or input list. */
export function defaultManifestRef(settings: BatchSettings, id: string, firstItem?: BatchItem): ObjectRef {
  if (settings.target)
    return { store: settings.target.store, key: `${settings.target.prefix}${id}.manifest.jsonl` };
  if (settings.itemsManifest) {
    return { store: settings.itemsManifest.store, key: `${settings.itemsManifest.key}.${id}.result.jsonl` };
  }
  return { store: firstItem?.input.store ?? "default", key: `batches/${id}.manifest.jsonl` };
}

/**
 * Submits batches (a BullMQ flow: a parent that finishes after every document, and an expanding
 * child that adds the documents in chunks), reports their progress and cancels them.
 */
export class BatchClient {
  private readonly prefix: string;
  private readonly coordination: Queue;
  private readonly documents: Queue;
  private readonly flows: TransactionalFlowProducer;
  private readonly connection: ConnectionOptions;

  constructor(options: BatchClientOptions) {
    this.connection = options.connection;
    this.prefix = options.prefix ?? QUEUE_PREFIX;
    const onError = options.onError ?? (() => undefined);
    const common = { connection: options.connection, prefix: this.prefix };
    this.coordination = new Queue(BATCH_QUEUE, common);
    this.documents = new Queue(QUEUES.batch, common);
    this.flows = new TransactionalFlowProducer(common);
    this.coordination.on("error", onError);
    this.documents.on("error", onError);
    this.flows.on("error", onError);
  }

  /**
   * Starts a batch. Items of the list form are validated and pushed to Redis `BATCH_CHUNK` at a
   * time, so a producer never holds a whole night's batch; a bad item enqueues nothing.
   */
  async create(submission: BatchSubmission, options: CreateBatchOptions = {}): Promise<{ id: string }> {
    const { items, ...rest } = submission;
    const parsed = BatchSettingsSchema.safeParse(rest);
    if (!parsed.success) {
      throw new InvalidJobError(
        `invalid batch: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
        parsed.error.issues,
      );
    }
    const settings = parsed.data;
    const problems = batchFormProblems(settings, items !== undefined);
    if (problems.length > 0) throw new InvalidJobError(`invalid batch: ${problems.join("; ")}`, []);

    const id = options.id ?? newBatchId();
    let firstItem: BatchItem | undefined;
    let source: BatchItemSource;
    if (items !== undefined) {
      const pushed = await this.pushItems(id, items);
      firstItem = pushed.first;
      source = { kind: "list", count: pushed.count };
    } else if (settings.itemsManifest) {
      source = { kind: "manifest", manifest: settings.itemsManifest };
    } else {
      source = { kind: "prefix", source: settings.source!, target: settings.target! };
    }
    const record: BatchRecord = {
      schemaVersion: SCHEMA_VERSION,
      batchId: id,
      createdAt: new Date().toISOString(),
      tenant: settings.tenant,
      manifest: settings.manifest ?? defaultManifestRef(settings, id, firstItem),
      ...(settings.callback && { callback: settings.callback }),
    };
    const expand: BatchExpandData = {
      batchId: id,
      items: source,
      options: settings.options,
      tenant: settings.tenant,
      ...(options.policy && {
        policy: {
          stores: copyPolicyStores(options.policy),
          ...(options.policy.signers && { signers: [...options.policy.signers] }),
          ...(options.policy.webhookSecretIds && { webhookSecretIds: [...options.policy.webhookSecretIds] }),
        },
      }),
    };
    const flow: FlowJob = {
      name: BATCH_JOB_NAMES.finish,
      queueName: BATCH_QUEUE,
      data: record,
      opts: { ...COORDINATION_JOB_OPTIONS, jobId: id },
      children: [
        {
          name: BATCH_JOB_NAMES.expand,
          queueName: BATCH_QUEUE,
          data: expand,
          // An unreadable item source must not leave the batch open forever: it finishes with
          // what was added, and the manifest says why it stopped.
          opts: { ...COORDINATION_JOB_OPTIONS, jobId: expandJobId(id), ignoreDependencyOnFailure: true },
        },
      ],
    };
    await queueCall(`starting batch ${id}`, () => this.startFlow(flow, [id, expandJobId(id)]));
    return { id };
  }

  /** Progress of a batch; E_NOT_FOUND if it never existed or is no longer retained. */
  async get(id: string): Promise<BatchStatus> {
    const state = await queueCall(`reading batch ${id}`, () => this.coordination.getJobState(id));
    const job = await queueCall(`reading batch ${id}`, () => this.coordination.getJob(id));
    if (!job || state === "unknown") throw new EsignError("E_NOT_FOUND", `no batch ${id}`);
    const record = job.data as BatchRecord;
    const redis = await this.redis();
    const meta = await queueCall(`reading batch ${id}`, () => redis.hgetall(batchKeys(id, this.prefix).meta));
    const summary = meta[META.summary]
      ? (JSON.parse(meta[META.summary]) as BatchCompletedEvent["data"])
      : undefined;
    const counts = summary?.counts ?? (await this.liveCounts(id, meta));
    const finishedAt = meta[META.finishedAt];
    const elapsedS =
      ((finishedAt ? Date.parse(finishedAt) : Date.now()) - Date.parse(record.createdAt)) / 1000;
    // Items refused while reading the source took no worker time: they would inflate the rate.
    const finished = counts.completed + counts.failed - Number(meta[META.rejected] ?? 0);
    const throughput = elapsedS > 0 ? finished / elapsedS : 0;
    return {
      id,
      state: batchState(state, meta),
      ...(record.tenant && { tenant: record.tenant }),
      createdAt: record.createdAt,
      ...(finishedAt && { finishedAt }),
      counts,
      throughput,
      etaSeconds: counts.pending === 0 ? 0 : throughput > 0 ? counts.pending / throughput : null,
      manifest: record.manifest,
      ...(meta[META.expandError] && { submissionError: meta[META.expandError] }),
    };
  }

  /**
   * The most recent batches, newest first: at most `limit` that `include` accepts (a tenant's own),
   * found among the `scan` newest coordination jobs.
   */
  async list(
    options: { limit: number; scan?: number; include?: (status: BatchStatus) => boolean } = { limit: 50 },
  ): Promise<BatchStatus[]> {
    const jobs = await queueCall("listing batches", () =>
      this.coordination.getJobs(
        ["waiting-children", "waiting", "active", "delayed", "completed", "failed"],
        0,
        (options.scan ?? 1000) - 1,
      ),
    );
    const batches = jobs
      .filter((job) => job.name === BATCH_JOB_NAMES.finish && job.id)
      .sort((a, b) => b.timestamp - a.timestamp);
    const listed: BatchStatus[] = [];
    for (const job of batches) {
      if (listed.length >= options.limit) break;
      // Removed by retention between the listing and now: left out.
      const status = await this.get(job.id!).catch((error: unknown) => {
        if (error instanceof EsignError && error.code === "E_NOT_FOUND") return undefined;
        throw error;
      });
      if (status && (options.include?.(status) ?? true)) listed.push(status);
    }
    return listed;
  }

  /**
   * Cancels a batch: no more documents are added, waiting ones are removed (and reported as
   * cancelled in the manifest), running ones finish. The batch then completes as usual.
   */
  async cancel(id: string): Promise<{ cancelled: number; state: BatchState }> {
    const before = await this.get(id);
    if (["completed", "cancelled", "failed"].includes(before.state))
      return { cancelled: 0, state: before.state };
    const keys = batchKeys(id, this.prefix);
    const redis = await this.redis();
    await queueCall(`cancelling batch ${id}`, () => redis.hset(keys.meta, META.cancelRequested, "1"));
    await this.waitForExpansionToStop(redis, keys.meta);

    const dependencies = `${this.coordination.toKey(id)}:dependencies`;
    const childPrefix = this.documents.toKey("");
    let cancelled = 0;
    let cursor = "0";
    do {
      const [next, members] = await queueCall(`scanning batch ${id}`, () =>
        redis.sscan(dependencies, cursor, "COUNT", BATCH_CHUNK),
      );
      cursor = next;
      const children = members.filter((key) => key.startsWith(childPrefix));
      cancelled += await this.removeWaiting(
        redis,
        keys.cancelled,
        children.map((key) => key.slice(childPrefix.length)),
      );
    } while (cursor !== "0");
    return { cancelled, state: (await this.get(id)).state };
  }

  /** Polls until the batch has finished (completed, cancelled or failed); E_TIMEOUT otherwise. */
  async waitFor(
    id: string,
    { timeoutMs, pollIntervalMs = 1_000 }: { timeoutMs: number; pollIntervalMs?: number },
  ) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.get(id);
      if (["completed", "cancelled", "failed"].includes(status.state)) return status;
      if (Date.now() > deadline)
        throw new EsignError("E_TIMEOUT", `batch ${id} not finished after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.coordination.close(), this.documents.close(), this.flows.close()]);
  }

  /**
   * Adds the batch's flow; on a bounded connection, in one transaction that adds nothing if Redis
   * runs it after the deadline (a batch refused during a stall does not start when Redis wakes up).
   */
  private async startFlow(flow: FlowJob, coordinationJobIds: readonly string[]): Promise<void> {
    if (!(this.connection instanceof BoundedRedis)) {
      await this.flows.add(flow);
      return;
    }
    const client = await this.redis();
    await addBefore(
      client,
      this.connection.deadline(),
      coordinationJobIds.map((jobId) => this.coordination.toKey(jobId)),
      (transaction) => this.flows.addTo(transaction, flow),
    );
  }

  private redis(): Promise<Redis | Cluster> {
    return queueCall(
      "connecting to Redis",
      async () => (await this.coordination.client) as unknown as Redis | Cluster,
    );
  }

  private async pushItems(id: string, items: Iterable<unknown> | AsyncIterable<unknown>) {
    const redis = await this.redis();
    const key = batchKeys(id, this.prefix).items;
    let count = 0;
    let first: BatchItem | undefined;
    let chunk: string[] = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      const lines = chunk;
      chunk = [];
      await queueCall(`pushing items of batch ${id}`, () =>
        redis
          .multi()
          .rpush(key, ...lines)
          .expire(key, PENDING_ITEMS_TTL_S)
          .exec(),
      );
    };
    try {
      for await (const raw of items) {
        const parsed = BatchItemSchema.safeParse(raw);
        if (!parsed.success) {
          const summary = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
          throw new InvalidJobError(`item #${count}: ${summary}`, parsed.error.issues);
        }
        first ??= parsed.data;
        chunk.push(JSON.stringify(parsed.data));
        count += 1;
        if (chunk.length >= BATCH_CHUNK) await flush();
      }
      await flush();
    } catch (error) {
      await redis.del(key).catch(() => undefined);
      throw error;
    }
    if (count === 0) throw new InvalidJobError("invalid batch: the item list is empty", []);
    return { count, first };
  }

  /** Removes the jobs among `jobIds` that have not started, recording each as a cancelled manifest line. */
  private async removeWaiting(
    redis: Redis | Cluster,
    cancelledKey: string,
    jobIds: string[],
  ): Promise<number> {
    const outcomes = await Promise.all(
      jobIds.map(async (jobId) => {
        const job = await this.documents.getJob(jobId);
        if (!job || (await this.documents.remove(jobId)) !== 1) return undefined;
        const line: BatchManifestLine = {
          index: childIndexOf(jobId),
          jobId,
          input: job.data.input,
          output: job.data.output,
          status: "cancelled",
        };
        return JSON.stringify(line);
      }),
    );
    const lines = outcomes.filter((line): line is string => line !== undefined);
    if (lines.length > 0) await redis.rpush(cancelledKey, ...lines);
    return lines.length;
  }

  private async waitForExpansionToStop(redis: Redis | Cluster, metaKey: string): Promise<void> {
    const deadline = Date.now() + EXPANSION_STOP_TIMEOUT_MS;
    while ((await redis.hget(metaKey, META.expanded)) !== "1" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async liveCounts(id: string, meta: Record<string, string>): Promise<BatchCounts> {
    const parent = this.coordination.toKey(id);
    const expand = this.coordination.toKey(expandJobId(id));
    const redis = await this.redis();
    const replies = await queueCall(`counting batch ${id}`, () =>
      redis
        .multi()
        .hlen(`${parent}:processed`)
        .hlen(`${parent}:failed`)
        .scard(`${parent}:dependencies`)
        .llen(batchKeys(id, this.prefix).cancelled)
        .hexists(`${parent}:processed`, expand)
        .hexists(`${parent}:failed`, expand)
        .sismember(`${parent}:dependencies`, expand)
        .exec(),
    );
    const [processed, failed, pending, cancelled, expandDone, expandFailed, expandPending] = (
      replies ?? []
    ).map(([, value]) => Number(value)) as number[];
    return {
      total: Number(meta[META.seen] ?? 0),
      pending: pending! - expandPending!,
      completed: processed! - expandDone!,
      failed: failed! - expandFailed! + Number(meta[META.rejected] ?? 0),
      cancelled: cancelled!,
    };
  }
}

/** A FlowProducer that can queue a flow on a transaction of the caller's (see addBefore). */
class TransactionalFlowProducer extends FlowProducer {
  async addTo(transaction: AddTransaction, flow: FlowJob): Promise<void> {
    await this.addNode({ multi: transaction, node: flow });
  }
}

function batchState(parentState: string, meta: Record<string, string>): BatchState {
  if (parentState === "completed") return meta[META.cancelRequested] ? "cancelled" : "completed";
  if (parentState === "failed") return "failed";
  if (parentState === "waiting-children") return meta[META.expanded] ? "running" : "submitting";
  return "finishing";
}

function copyPolicyStores(policy: TenantStoragePolicy): Record<string, string[]> {
  return Object.fromEntries(Object.entries(policy.stores).map(([store, prefixes]) => [store, [...prefixes]]));
}
