import { EsignError, isEsignError } from "@esign/errors";
import type { DigestAlgorithm } from "@esign/pades";
import type { PadesLevel } from "@esign/signers";
import type { CheckpointStore, PreparedCheckpoint, SignatureCheckpoint } from "./checkpoints";
import type { ApiOutcome, WorkerMetrics } from "./metrics";
import type { SigningRateLimiter } from "./rate-limiter";
import type { SignerEntry } from "./signer-profiles";
import { checkCms } from "./verify";

export interface SignTarget {
  queue: string;
  jobId: string;
  entry: SignerEntry;
  level: PadesLevel;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

function outcomeOf(error: unknown): ApiOutcome {
  if (!isEsignError(error)) return "error";
  if (error.code === "E_SIGNER_RATE_LIMITED") return "429";
  if (error.code === "E_SIGNER_UNAVAILABLE") return "5xx";
  return "error";
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
    private readonly limiter: SigningRateLimiter | undefined,
    private readonly metrics: WorkerMetrics,
  ) {}

  async sign(target: SignTarget, prepared: PreparedCheckpoint): Promise<SignatureCheckpoint> {
    const { queue, jobId, entry } = target;
    const saved = await this.checkpoints.loadSignature(queue, jobId, prepared.digestHex);
    if (saved) return saved;

    const slot = entry.remote && this.limiter ? await this.limiter.acquire() : undefined;
    if (slot) this.metrics.rateLimitWait.inc(slot.waitedMs / 1000);
    const documentDigest = Buffer.from(prepared.digestHex, "hex");
    const result = await this.metrics
      .time("sign", async () => {
        try {
          const answer = await entry.signer.sign({
            documentDigest,
            digestAlgorithm: prepared.digestAlgorithm as DigestAlgorithm,
            level: target.level,
          });
          this.metrics.apiCalls.inc({ backend: entry.backend, outcome: "ok" });
          return answer;
        } catch (error) {
          this.metrics.apiCalls.inc({ backend: entry.backend, outcome: outcomeOf(error) });
          if (isEsignError(error)) throw error;
          throw new EsignError("E_SIGNER_UNAVAILABLE", `signing failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
      })
      // A failed release only keeps the slot until its lease runs out; it must not fail the job.
      .finally(() => slot?.release().catch(() => undefined));
    checkCms(result.cms, documentDigest, await entry.describe());
    return this.checkpoints.saveSignature(queue, jobId, prepared.digestHex, {
      cmsBase64: base64(result.cms),
      ...(result.ltv && {
        ltv: {
          certs: result.ltv.certs.map(base64),
          ocsps: result.ltv.ocsps.map(base64),
          crls: result.ltv.crls.map(base64),
        },
      }),
    });
  }
}
