import { certificateSubject, type VisibleSignatureOptions } from "@esign/appearance";
import { EsignError } from "@esign/errors";
import { SCHEMA_VERSION, type SignJob, type SignResult } from "@esign/jobs";
import type { PdfDocument } from "@esign/pdf";
import {
  byteRangeCheck,
  complete,
  hashedLengthOf,
  type OpenInputOptions,
  type OutputCheck,
  type Prepared,
  preparedFor,
  prepareWithInput,
  verifyOutputStructure,
} from "@esign/pipeline";
import type { ObjectStore, StoredObjectSource, StoreRegistry } from "@esign/storage";
import { type CheckpointStore, signResultOf } from "./checkpoints";
import type { ExactlyOnceSigner } from "./exactly-once-signer";
import type { WorkerMetrics } from "./metrics";
import { appearanceOf, sealOf, type TenantSeals } from "./seals";
import type { SignerEntry, SignerRegistry } from "./signer-profiles";

export interface SignDocumentDeps {
  stores: StoreRegistry;
  signers: SignerRegistry;
  checkpoints: CheckpointStore;
  signing: ExactlyOnceSigner;
  metrics: WorkerMetrics;
  tenantSeals: TenantSeals;
  /**
   * A signer's own signature image (a contract signer's drawing, PNG) for the visible signature,
   * in place of a template's: read by the caller from the store, as jobs never carry files.
   */
  appearanceImage?: Uint8Array;
}

export interface JobIdentity {
  queue: string;
  jobId: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** Refuses what this job cannot get, before anything is fetched or billed. */
function assertSupported(job: SignJob, entry: SignerEntry): void {
  if (job.level === "B-LTA" && !entry.documentTimestamper) {
    throw new EsignError(
      "E_CONFIG",
      `signer profile ${entry.profile} has no documentTimestampUrls, which B-LTA's document time-stamp needs`,
    );
  }
}

/**
 * fetch → prepare → digest → sign → embed → verify → upload for one job. Prepared revision and
 * signature come from the job's checkpoints when an earlier attempt got that far.
 */
export async function signDocument(
  job: SignJob,
  identity: JobIdentity,
  deps: SignDocumentDeps,
): Promise<SignResult> {
  const { stores, signers, metrics } = deps;
  const entry = signers.get(job.signer);
  assertSupported(job, entry);
  // Looked up on every attempt (the password is in no checkpoint), before anything is fetched.
  const open: OpenInputOptions = {
    pdfPassword: job.pdfPassword && entry.pdfPassword(job.pdfPassword.secret),
  };
  const input = stores.resolve(job.input);
  const output = stores.resolve(job.output);

  const source = await metrics.time("fetch", () => input.store.openSource(input.key));
  try {
    return await signFetched(job, identity, deps, source, entry, output, open);
  } finally {
    await source.close?.();
  }
}

/**
 * The pipeline's `prepare` for this job, timed; its digest is the bytes of the byte range hashed.
 * Also gives the input as opened, which spares complete and verify parsing it again.
 */
async function prepareJob(
  job: SignJob,
  source: StoredObjectSource,
  entry: SignerEntry,
  metrics: WorkerMetrics,
  open: OpenInputOptions,
  appearance: VisibleSignatureOptions | undefined,
): Promise<{ prepared: Prepared; input: PdfDocument }> {
  const opened = await metrics.time("prepare", () =>
    prepareWithInput(
      source,
      { describe: entry.describe, estimateCmsSize: (level) => entry.signer.estimateCmsSize(level) },
      {
        ...open,
        level: job.level,
        contentsSize: entry.contentsSize,
        requireLtv: entry.requireLtv,
        field: {
          fieldName: job.field.name,
          page: job.field.page,
          reason: job.field.reason,
          location: job.field.location,
          contactInfo: job.field.contactInfo,
          name: job.field.signerName,
          certify: job.field.certify,
        },
        appearance,
      },
    ),
  );
  metrics.bytesHashed.inc(hashedLengthOf(opened.prepared));
  return opened;
}

async function signFetched(
  job: SignJob,
  { queue, jobId, attempt }: JobIdentity,
  { checkpoints, signing, metrics, tenantSeals, appearanceImage }: SignDocumentDeps,
  source: StoredObjectSource,
  entry: SignerEntry,
  output: { store: ObjectStore; key: string },
  open: OpenInputOptions,
): Promise<SignResult> {
  let prepared = await checkpoints.loadPrepared(queue, jobId);
  // Only when this attempt prepared: an input opened by an earlier attempt is gone with it.
  let openedInput: PdfDocument | undefined;
  if (!prepared || !preparedFor(prepared, source)) {
    const appearance = appearanceOf(job, await sealOf(job, entry, tenantSeals));
    const fresh = await prepareJob(
      job,
      source,
      entry,
      metrics,
      open,
      appearance && appearanceImage ? { ...appearance, image: appearanceImage } : appearance,
    );
    prepared = await checkpoints.savePrepared(queue, jobId, fresh.prepared);
    openedInput = fresh.input;
  }
  const reopen: OpenInputOptions = { ...open, openedInput };

  const signature = signResultOf(await signing.sign({ queue, jobId, entry }, prepared));
  const signed = await metrics.time("embed", () =>
    complete(source, prepared, signature, { ...reopen, documentTimestamper: entry.documentTimestamper }),
  );
  // The reader's view of the new signature here; that the bytes stored hash to the signed digest
  // is checked on their way into the store (one pass: no re-read, no re-hash of the document).
  const check = await metrics.time("verify", () =>
    verifyOutputStructure(signed.output, prepared, signature, reopen),
  );
  const written = await metrics.time("upload", () =>
    output.store.writeSignedOutput(
      output.key,
      source,
      Buffer.concat(signed.revisions),
      byteRangeCheck(prepared),
    ),
  );
  metrics.bytesHashed.inc(check.hashedLength);
  const description = await entry.describe();
  return {
    schemaVersion: SCHEMA_VERSION,
    output: job.output,
    size: written.size,
    sha256: written.sha256,
    fieldName: prepared.fieldName,
    signingTime: prepared.signingTime,
    level: job.level,
    signerSubject: certificateSubject(description.certificate),
    signatureId: prepared.digest,
    attempts: attempt,
    ...ltvResultFields(check),
  };
}

/** The result's `ltvEnabled`/`ltvGaps` (B-LT and B-LTA) and `warnings` (when there are any). */
function ltvResultFields({ ltv, warnings }: OutputCheck): Partial<SignResult> {
  return {
    ...(ltv && { ltvEnabled: ltv.ltvEnabled, ltvGaps: ltv.gaps }),
    ...(warnings.length > 0 && { warnings }),
  };
}
