import { createHash } from "node:crypto";
import { setTimeout } from "node:timers/promises";
import { EsignError, isEsignError } from "@esign/errors";
import { checkSignResult, type Prepared, signRequestOf } from "@esign/pipeline";
import type { SignResult } from "@esign/signers";
import {
  type CheckpointStore,
  type SignatureCheckpoint,
  type SignCallLease,
  signatureCheckpointOf,
} from "./checkpoints";
import type { ApiOutcome, WorkerMetrics } from "./metrics";
import type { SigningRateLimiter } from "./rate-limiter";
import type { SignerEntry } from "./signer-profiles";
import type { SigningUsageCounter } from "./signing-usage";

export interface SignTarget {
  queue: string;
  jobId: string;
  entry: SignerEntry;
}

/** A 429 without Retry-After pauses the signing calls this long. */
const DEFAULT_RETRY_AFTER_SECONDS = 1;
/**
 * 429s one attempt waits through before it gives up as a transient failure (E_SIGNER_RATE_LIMITED,
 * retried with backoff): a service that keeps refusing for this long is not just pacing us.
 */
const MAX_RATE_LIMITED_CALLS = 30;

function outcomeOf(error: unknown): ApiOutcome {
  if (!isEsignError(error)) return "error";
  if (error.code === "E_SIGNER_RATE_LIMITED") return "429";
  if (error.code === "E_SIGNER_UNAVAILABLE") return "5xx";
  return "error";
}

/**
 * How long a claim on a paid call outlives its holder: it is renewed every third of this while the
 * call runs, so a live holder keeps it however long the call takes and a killed one frees it soon.
 */
const SIGN_CALL_LEASE_MS = 15_000;
const SIGN_CALL_POLL_MS = 500;

/**
 * The Idempotency-Key of the one paid call for this job and digest: the same after a crash (the
 * digest comes from the job's checkpoint), different for every other signature. A hash, so the job
 * id (which may be a producer's own idempotency key) does not travel to the service.
 */
export function signCallIdempotencyKey(target: SignTarget, digestHex: string): string {
  const identity = [target.queue, target.jobId, target.entry.profile, digestHex].join("\n");
  return `esign-${createHash("sha256").update(identity).digest("hex")}`;
}

/**
 * The only place a signing service is called. Per job and digest it pays for one signature:
 * a checkpointed signature is returned without a call, and a new one is checkpointed the moment
 * it has been checked, before embedding, verifying or uploading can fail. Remote calls wait for
 * the global rate limiter first.
 */
export class ExactlyOnceSigner {
  constructor(
    private readonly checkpoints: CheckpointStore,
    private readonly limiter: SigningRateLimiter,
    private readonly metrics: WorkerMetrics,
    private readonly usage: SigningUsageCounter,
  ) {}

  async sign(target: SignTarget, prepared: Prepared): Promise<SignatureCheckpoint> {
    const { queue, jobId } = target;
    const digestHex = prepared.digest;
    let lease: SignCallLease | undefined;
    for (;;) {
      const found = await this.checkpoints.loadSignatureOrClaimCall(
        queue,
        jobId,
        digestHex,
        SIGN_CALL_LEASE_MS,
      );
      if (found.saved) return found.saved;
      lease = found.lease;
      if (lease) break;
      // Another process is paying for this very signature: wait for its checkpoint (or its lease to end).
      await setTimeout(SIGN_CALL_POLL_MS);
    }
    try {
      return await this.signOnce(target, prepared, lease);
    } finally {
      // Normally released already, with the signature's checkpoint; this covers a failed call.
      await lease.release().catch(() => undefined);
    }
  }

  private async signOnce(
    target: SignTarget,
    prepared: Prepared,
    lease: SignCallLease,
  ): Promise<SignatureCheckpoint> {
    const { queue, jobId, entry } = target;
    const request = {
      ...signRequestOf(prepared),
      ...(entry.idempotent && { idempotencyKey: signCallIdempotencyKey(target, prepared.digest) }),
    };
    const result = await this.callWithinQuota(entry, async () => {
      // Counted before the call leaves: a crash during it leaves the call counted, in doubt.
      await this.usage.count(entry, "calls");
      const answer = await entry.signer.sign(request);
      await this.usage.count(entry, "answered");
      if (answer.replayed) await this.usage.count(entry, "replayed");
      return answer;
    });
    await checkSignResult(prepared, result, await entry.describe());
    return this.checkpoints.saveSignature(
      queue,
      jobId,
      prepared.digest,
      signatureCheckpointOf(result),
      lease,
    );
  }

  /**
   * One sign call, admitted by the global limiter (remote backends only). A 429 pauses every
   * worker's calls for its Retry-After and this call is made again once the pause is over, in
   * the same attempt: a rate limit is the quota talking, not the job failing.
   */
  private async callWithinQuota(entry: SignerEntry, call: () => Promise<SignResult>): Promise<SignResult> {
    for (let rateLimited = 0; ; rateLimited++) {
      const slot = entry.remote ? await this.limiter.acquire() : undefined;
      if (slot) this.metrics.rateLimitWait.inc(slot.waitedMs / 1000);
      try {
        return await this.metrics.time("sign", call).then((answer) => {
          this.metrics.apiCalls.inc({ backend: entry.backend, outcome: "ok" });
          return answer;
        });
      } catch (thrown) {
        this.metrics.apiCalls.inc({ backend: entry.backend, outcome: outcomeOf(thrown) });
        const error = isEsignError(thrown)
          ? thrown
          : new EsignError("E_SIGNER_UNAVAILABLE", `signing failed: ${(thrown as Error).message}`, {
              cause: thrown,
            });
        if (
          error.code !== "E_SIGNER_RATE_LIMITED" ||
          !entry.remote ||
          rateLimited >= MAX_RATE_LIMITED_CALLS
        ) {
          throw error;
        }
        await this.limiter.pause((error.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS) * 1000);
      } finally {
        // A failed release only keeps the slot until its lease runs out; it must not fail the job.
        await slot?.release().catch(() => undefined);
      }
    }
  }
}
