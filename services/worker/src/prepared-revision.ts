import { EsignError } from "@esign/errors";
import type { SignJob } from "@esign/jobs";
import { type DigestAlgorithm, digestAlgorithmOf } from "@esign/pades";
import { openPdf, prepareSignature } from "@esign/pdf";
import type { StoredObjectSource } from "@esign/storage";
import type { PreparedCheckpoint } from "./checkpoints";
import type { WorkerMetrics } from "./metrics";
import type { SignerEntry } from "./signer-profiles";

/** PDF dates have whole seconds; a signing time with milliseconds would not survive a round trip. */
function wholeSecondNow(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}

/** Bytes a /ByteRange [0, a, b, c] covers. */
export function byteRangeLength(byteRange: readonly number[]): number {
  return (byteRange[1] ?? 0) + (byteRange[3] ?? 0);
}

/**
 * Builds the signature revision for `job` over `source` and hashes its byte range: the state that
 * gets checkpointed before the signing service is called.
 */
export async function prepareRevision(
  job: SignJob,
  source: StoredObjectSource,
  entry: SignerEntry,
  metrics: WorkerMetrics,
): Promise<PreparedCheckpoint> {
  const { signatureAlgorithm } = await entry.describe();
  const digestAlgorithm: DigestAlgorithm = digestAlgorithmOf(signatureAlgorithm);
  const contentsSize = entry.contentsSize ?? (await entry.signer.estimateCmsSize(job.level));
  const signingTime = wholeSecondNow();
  const prepared = await metrics.time("prepare", async () =>
    prepareSignature(await openPdf(source), {
      fieldName: job.field.name,
      page: job.field.page,
      reason: job.field.reason,
      location: job.field.location,
      contactInfo: job.field.contactInfo,
      name: job.field.signerName,
      certify: job.field.certify,
      signingTime,
      contentsSize,
    }),
  );
  const digest = await metrics.time("digest", () => prepared.digest(digestAlgorithm));
  metrics.bytesHashed.inc(byteRangeLength(prepared.byteRange));
  return {
    inputEtag: source.etag,
    inputSize: source.size,
    revisionBase64: Buffer.from(prepared.revision).toString("base64"),
    byteRange: prepared.byteRange,
    fieldName: prepared.fieldName,
    signingTime: signingTime.toISOString(),
    digestAlgorithm,
    digestHex: digest.toString("hex"),
  };
}

/**
 * Writes `cms` (hex, zero padded) into the /Contents placeholder of a checkpointed revision: the
 * revision may come from an earlier attempt, so this works on its bytes, not on live objects.
 */
export function embedCms(prepared: PreparedCheckpoint, cms: Uint8Array): Uint8Array {
  const revision = Buffer.from(prepared.revisionBase64, "base64");
  const [, gapStart, gapEnd] = prepared.byteRange;
  const placeholderAt = gapStart - prepared.inputSize;
  const capacity = (gapEnd - gapStart - 2) / 2;
  if (
    revision[placeholderAt] !== 0x3c /* < */ ||
    revision[placeholderAt + capacity * 2 + 1] !== 0x3e /* > */
  ) {
    throw new EsignError(
      "E_INTERNAL",
      "the checkpointed revision has no /Contents placeholder at its /ByteRange gap",
    );
  }
  if (cms.length > capacity) {
    throw new EsignError(
      "E_CONTENTS_TOO_SMALL",
      `the CMS is ${cms.length} bytes but only ${capacity} were reserved; the signer's size estimate is too low`,
    );
  }
  const signed = Uint8Array.from(revision);
  signed.set(Buffer.from(Buffer.from(cms).toString("hex"), "latin1"), placeholderAt + 1);
  return signed;
}
