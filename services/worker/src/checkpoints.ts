import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";

/**
 * A prepared signature revision as it was hashed. The revision cannot simply be rebuilt on a
 * retry: every incremental update gets a fresh random second /ID in its trailer, which is inside
 * the signed byte range, so a rebuilt revision has another digest and would need another
 * (billed) signature. Keeping the exact bytes makes the digest, and so the CMS, reusable.
 */
export const PreparedCheckpointSchema = z.object({
  /** The input object the revision extends; a changed input invalidates the checkpoint. */
  inputEtag: z.string(),
  inputSize: z.int().min(0),
  revisionBase64: z.string(),
  byteRange: z.tuple([z.int(), z.int(), z.int(), z.int()]),
  fieldName: z.string(),
  signingTime: z.iso.datetime({ offset: true }),
  digestAlgorithm: z.string(),
  digestHex: z.string(),
});
export type PreparedCheckpoint = z.infer<typeof PreparedCheckpointSchema>;

export const SignatureCheckpointSchema = z.object({
  cmsBase64: z.string(),
  ltv: z
    .object({ certs: z.array(z.string()), ocsps: z.array(z.string()), crls: z.array(z.string()) })
    .optional(),
});
export type SignatureCheckpoint = z.infer<typeof SignatureCheckpointSchema>;

/** A claim on a paid call, renewed while held. */
export interface SignCallLease {
  release(): Promise<void>;
}

const RENEW_IF_OWNED = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`;
const DELETE_IF_OWNED = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

/** Longer than any retry of a job can happen, including a manual retry of a failed job. */
const CHECKPOINT_TTL_SECONDS = 15 * 24 * 3600;
const PREPARED = "prepared";

/**
 * Per-job checkpoints in Redis (one hash per job): the prepared revision, saved before the
 * signing service is called, and each signature obtained, keyed by the digest it signs, saved
 * before anything else can fail. A retry after a crash finds both and embeds instead of paying
 * for a second signature.
 */
export class CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(queue: string, jobId: string): string {
    return `${this.prefix}:worker:checkpoint:${queue}:${jobId}`;
  }

  async loadPrepared(queue: string, jobId: string): Promise<PreparedCheckpoint | undefined> {
    const text = await this.redis.hget(this.key(queue, jobId), PREPARED);
    return text === null ? undefined : PreparedCheckpointSchema.parse(JSON.parse(text));
  }

  /**
   * Stores `prepared` unless the job already has a checkpoint for the same input, and returns the
   * one that counts: if another process got there first (a stalled job picked up while its first
   * worker still ran), both continue with the same revision and hence the same digest.
   */
  async savePrepared(
    queue: string,
    jobId: string,
    prepared: PreparedCheckpoint,
  ): Promise<PreparedCheckpoint> {
    const key = this.key(queue, jobId);
    const existing = await this.loadPrepared(queue, jobId);
    if (
      existing &&
      (existing.inputEtag !== prepared.inputEtag || existing.inputSize !== prepared.inputSize)
    ) {
      // The input was replaced since: its old revision and signatures are useless now.
      await this.redis.del(key);
    }
    await this.redis
      .multi()
      .hsetnx(key, PREPARED, JSON.stringify(prepared))
      .expire(key, CHECKPOINT_TTL_SECONDS)
      .exec();
    return (await this.loadPrepared(queue, jobId)) ?? prepared;
  }

  async loadSignature(
    queue: string,
    jobId: string,
    digestHex: string,
  ): Promise<SignatureCheckpoint | undefined> {
    const text = await this.redis.hget(this.key(queue, jobId), `cms:${digestHex}`);
    return text === null ? undefined : SignatureCheckpointSchema.parse(JSON.parse(text));
  }

  /** Keeps the first signature stored for this digest and returns it. */
  async saveSignature(
    queue: string,
    jobId: string,
    digestHex: string,
    signature: SignatureCheckpoint,
  ): Promise<SignatureCheckpoint> {
    const key = this.key(queue, jobId);
    await this.redis
      .multi()
      .hsetnx(key, `cms:${digestHex}`, JSON.stringify(signature))
      .expire(key, CHECKPOINT_TTL_SECONDS)
      .exec();
    return (await this.loadSignature(queue, jobId, digestHex)) ?? signature;
  }

  /** Called once the job is recorded as finished, so nothing can retry it any more. */
  /**
   * Claims the one paid call for this job and digest. Undefined while another process holds it:
   * after a lost lock (a long stall, a Redis failover) two workers can run the same job. The claim
   * is short-lived and kept alive by its holder, so a holder killed mid-call blocks nobody for long.
   */
  async claimSignCall(
    queue: string,
    jobId: string,
    digestHex: string,
    leaseMs: number,
  ): Promise<SignCallLease | undefined> {
    const key = this.callKey(queue, jobId, digestHex);
    const token = randomUUID();
    if ((await this.redis.set(key, token, "PX", leaseMs, "NX")) !== "OK") return undefined;
    const renewal = setInterval(() => {
      this.redis.eval(RENEW_IF_OWNED, 1, key, token, leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    renewal.unref();
    return {
      release: async () => {
        clearInterval(renewal);
        await this.redis.eval(DELETE_IF_OWNED, 1, key, token);
      },
    };
  }

  private callKey(queue: string, jobId: string, digestHex: string): string {
    return `${this.key(queue, jobId)}:calling:${digestHex}`;
  }

  async clear(queue: string, jobId: string): Promise<void> {
    await this.redis.del(this.key(queue, jobId));
  }
}
