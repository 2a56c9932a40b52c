import { randomUUID } from "node:crypto";
import { type Prepared, PreparedSchema } from "@esign/pipeline";
import type { SignResult } from "@esign/signers";
import type { Redis } from "ioredis";
import { z } from "zod";

export const SignatureCheckpointSchema = z.object({
  cmsBase64: z.string(),
  ltv: z
    .object({ certs: z.array(z.string()), ocsps: z.array(z.string()), crls: z.array(z.string()) })
    .optional(),
});
export type SignatureCheckpoint = z.infer<typeof SignatureCheckpointSchema>;

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

export function signatureCheckpointOf(result: SignResult): SignatureCheckpoint {
  return {
    cmsBase64: base64(result.cms),
    ...(result.ltv && {
      ltv: {
        certs: result.ltv.certs.map(base64),
        ocsps: result.ltv.ocsps.map(base64),
        crls: result.ltv.crls.map(base64),
      },
    }),
  };
}

function signatureCheckpointOfStored(text: string): SignatureCheckpoint {
  return SignatureCheckpointSchema.parse(JSON.parse(text));
}

export function signResultOf(checkpoint: SignatureCheckpoint): SignResult {
  return {
    cms: fromBase64(checkpoint.cmsBase64),
    ...(checkpoint.ltv && {
      ltv: {
        certs: checkpoint.ltv.certs.map(fromBase64),
        ocsps: checkpoint.ltv.ocsps.map(fromBase64),
        crls: checkpoint.ltv.crls.map(fromBase64),
      },
    }),
  };
}

/** A claim on a paid call, renewed while held. */
export interface SignCallLease {
  release(): Promise<void>;
}

/** What `loadSignatureOrClaimCall` found: the checkpointed signature, or the claim to pay for one, or neither. */
export type SignatureOrClaim =
  | { saved: SignatureCheckpoint; lease?: undefined }
  | { saved?: undefined; lease: SignCallLease | undefined };

const RENEW_IF_OWNED = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`;
const DELETE_IF_OWNED = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;
/**
 * KEYS[1] the job's checkpoint, KEYS[2] the claim on the call; ARGV: the signature's field, the
 * claim's token, its lease (ms). The signature stored, else 1 if the call is now claimed, else 0.
 */
/**
 * KEYS[1] the job's checkpoint, KEYS[2] (optional) a claim to release; ARGV: the field, its value,
 * the checkpoint's TTL (s), the claim's token. Sets the field unless it is set, renews the expiry,
 * then deletes the claim if it is still ours; 1 if the field was set. A script rather than MULTI:
 * an ioredis MULTI builds a Pipeline that copies every script BullMQ defined on the connection
 * (1 % of the worker's busy time in a profile, for two MULTIs per job).
 */
const STORE_IF_ABSENT = `local stored = redis.call("HSETNX", KEYS[1], ARGV[1], ARGV[2]) redis.call("EXPIRE", KEYS[1], ARGV[3]) if KEYS[2] and redis.call("GET", KEYS[2]) == ARGV[4] then redis.call("DEL", KEYS[2]) end return stored`;
const LOAD_SIGNATURE_OR_CLAIM = `local saved = redis.call("HGET", KEYS[1], ARGV[1]) if saved then return saved end if redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3], "NX") then return 1 end return 0`;

/** A claim held by this process: renewed until released, released at most once. */
class HeldClaim implements SignCallLease {
  private readonly renewal: NodeJS.Timeout;
  private released = false;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly token: string,
    leaseMs: number,
  ) {
    this.renewal = setInterval(() => {
      this.redis.eval(RENEW_IF_OWNED, 1, key, token, leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    this.renewal.unref();
  }

  /** Before a script that deletes the claim (if still ours) runs: `markReleased` once it has. */
  stopRenewing(): void {
    clearInterval(this.renewal);
  }

  markReleased(): void {
    this.released = true;
  }

  async release(): Promise<void> {
    clearInterval(this.renewal);
    if (this.released) return;
    await this.redis.eval(DELETE_IF_OWNED, 1, this.key, this.token);
    this.released = true;
  }
}

/** Longer than any retry of a job can happen, including a manual retry of a failed job. */
const CHECKPOINT_TTL_SECONDS = 15 * 24 * 3600;
/**
 * The prepared revision, stored without its /Contents placeholder (see `storedPrepared`). A
 * checkpoint under the older field "prepared" (saved before an upgrade) is one this version does
 * not read: the job prepares again.
 */
const PREPARED = "prepared:v2";

/**
 * `prepared` as stored: its revision without the zeros of the /Contents placeholder, which are
 * most of its bytes (twice the CMS capacity, e.g. 16 KiB of "0" for 8 KiB): what Redis holds and
 * every save and load moves shrinks by that. `preparedOfStored` puts them back.
 */
function storedPrepared(prepared: Prepared): string {
  const revision = Buffer.from(prepared.revision, "base64");
  const [start, end] = placeholderIn(prepared);
  if (!isEmptyPlaceholder(revision.subarray(start, end))) return JSON.stringify(prepared);
  const rest = Buffer.concat([revision.subarray(0, start), revision.subarray(end)]);
  return JSON.stringify({ ...prepared, revision: rest.toString("base64"), placeholderOmitted: true });
}

function preparedOfStored(text: string): Prepared | undefined {
  const stored = JSON.parse(text) as { placeholderOmitted?: boolean };
  const parsed = PreparedSchema.safeParse(stored);
  if (!parsed.success) return undefined;
  if (stored.placeholderOmitted !== true) return parsed.data;
  const [start, end] = placeholderIn(parsed.data);
  const rest = Buffer.from(parsed.data.revision, "base64");
  const placeholder = Buffer.alloc(end - start, "0");
  placeholder[0] = LESS_THAN;
  placeholder[placeholder.length - 1] = GREATER_THAN;
  const revision = Buffer.concat([rest.subarray(0, start), placeholder, rest.subarray(start)]);
  return { ...parsed.data, revision: revision.toString("base64") };
}

const LESS_THAN = 0x3c;
const GREATER_THAN = 0x3e;
const ZERO = 0x30;

/** Where the /Contents hex string `<00…0>` sits in the revision (the gap of the byte range). */
function placeholderIn(prepared: Prepared): [number, number] {
  return [prepared.byteRange[1] - prepared.input.size, prepared.byteRange[2] - prepared.input.size];
}

function isEmptyPlaceholder(bytes: Uint8Array): boolean {
  if (bytes.length < 2 || bytes[0] !== LESS_THAN || bytes[bytes.length - 1] !== GREATER_THAN) return false;
  for (let index = 1; index < bytes.length - 1; index++) if (bytes[index] !== ZERO) return false;
  return true;
}

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

  /**
   * The job's prepared signature (pipeline `prepare`), if an earlier attempt made one. One in a
   * format this version does not read (saved before an upgrade) counts as none: the job prepares
   * again.
   */
  async loadPrepared(queue: string, jobId: string): Promise<Prepared | undefined> {
    const text = await this.redis.hget(this.key(queue, jobId), PREPARED);
    return text === null ? undefined : preparedOfStored(text);
  }

  /**
   * Stores `prepared` unless the job already has a checkpoint for the same input, and returns the
   * one that counts: if another process got there first (a stalled job picked up while its first
   * worker still ran), both continue with the same revision and hence the same digest.
   */
  async savePrepared(queue: string, jobId: string, prepared: Prepared): Promise<Prepared> {
    const key = this.key(queue, jobId);
    const stored = storedPrepared(prepared);
    // Nearly every job has no checkpoint yet: store ours if there is none, in one round trip;
    // only when there is one is it read and judged below.
    if ((await this.storeIfAbsent(key, PREPARED, stored)) === 1) return prepared;
    const existingText = await this.redis.hget(key, PREPARED);
    const existing = existingText === null ? undefined : preparedOfStored(existingText);
    // One round trip for the clean-up, the save and its expiry.
    const transaction = this.redis.multi();
    if (
      existing &&
      (existing.input.size !== prepared.input.size || existing.input.etag !== prepared.input.etag)
    ) {
      // The input was replaced since: its old revision and signatures are useless now.
      transaction.del(key);
    } else if (!existing && existingText !== null) {
      // An unreadable checkpoint: replace it.
      transaction.hdel(key, PREPARED);
    }
    transaction.hsetnx(key, PREPARED, stored).expire(key, CHECKPOINT_TTL_SECONDS);
    const results = await transaction.exec();
    // Ours was stored: no need to read it back. Otherwise another process's counts.
    if (results?.at(-2)?.[1] === 1) return prepared;
    return (await this.loadPrepared(queue, jobId)) ?? prepared;
  }

  async loadSignature(
    queue: string,
    jobId: string,
    digestHex: string,
  ): Promise<SignatureCheckpoint | undefined> {
    const text = await this.redis.hget(this.key(queue, jobId), `cms:${digestHex}`);
    return text === null ? undefined : signatureCheckpointOfStored(text);
  }

  /**
   * The signature checkpointed for this digest, or else the claim on the one paid call for it
   * (`claimSignCall`), in one atomic round trip: no other process can store the signature and
   * release its claim between the look and the claim. `lease` is undefined while another process
   * holds the claim.
   */
  async loadSignatureOrClaimCall(
    queue: string,
    jobId: string,
    digestHex: string,
    leaseMs: number,
  ): Promise<SignatureOrClaim> {
    const callKey = this.callKey(queue, jobId, digestHex);
    const token = randomUUID();
    const answer = (await this.redis.eval(
      LOAD_SIGNATURE_OR_CLAIM,
      2,
      this.key(queue, jobId),
      callKey,
      `cms:${digestHex}`,
      token,
      leaseMs,
    )) as string | number;
    if (typeof answer === "string") return { saved: signatureCheckpointOfStored(answer) };
    return { lease: answer === 1 ? new HeldClaim(this.redis, callKey, token, leaseMs) : undefined };
  }

  /**
   * Keeps the first signature stored for this digest and returns it. With `lease` (the claim
   * under which it was paid for), the claim is released in the same atomic script, after the
   * signature is stored: a crash leaves either both or the claim to run out.
   */
  async saveSignature(
    queue: string,
    jobId: string,
    digestHex: string,
    signature: SignatureCheckpoint,
    lease?: SignCallLease,
  ): Promise<SignatureCheckpoint> {
    const claim = lease instanceof HeldClaim ? lease : undefined;
    claim?.stopRenewing();
    const stored = await this.storeIfAbsent(
      this.key(queue, jobId),
      `cms:${digestHex}`,
      JSON.stringify(signature),
      claim,
    );
    claim?.markReleased();
    if (stored === 1) return signature;
    return (await this.loadSignature(queue, jobId, digestHex)) ?? signature;
  }

  /** HSETNX and the checkpoint's expiry, then `claim` released if given: one atomic script. */
  private async storeIfAbsent(key: string, field: string, value: string, claim?: HeldClaim): Promise<number> {
    const keys = claim ? [key, claim.key] : [key];
    return (await this.redis.eval(
      STORE_IF_ABSENT,
      keys.length,
      ...keys,
      field,
      value,
      CHECKPOINT_TTL_SECONDS,
      claim?.token ?? "",
    )) as number;
  }

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
    return new HeldClaim(this.redis, key, token, leaseMs);
  }

  private callKey(queue: string, jobId: string, digestHex: string): string {
    return `${this.key(queue, jobId)}:calling:${digestHex}`;
  }

  /** Called once the job is recorded as finished, so nothing can retry it any more. */
  async clear(queue: string, jobId: string): Promise<void> {
    await this.redis.del(this.key(queue, jobId));
  }
}
