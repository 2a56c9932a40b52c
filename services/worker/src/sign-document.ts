import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import { SCHEMA_VERSION, type SignJob, type SignResult } from "@esign/jobs";
import type { DigestAlgorithm } from "@esign/pades";
import { ConcatSource } from "@esign/pdf";
import { appendDocumentTimestamp, appendValidationData } from "@esign/pipeline";
import type { ObjectStore, StoredObjectSource, StoreRegistry } from "@esign/storage";
import type { CheckpointStore, PreparedCheckpoint, SignatureCheckpoint } from "./checkpoints";
import type { ExactlyOnceSigner } from "./exactly-once-signer";
import type { WorkerMetrics } from "./metrics";
import { embedCms, prepareRevision } from "./prepared-revision";
import type { SignerEntry, SignerRegistry } from "./signer-profiles";
import { verifySignedOutput } from "./verify";

export interface SignDocumentDeps {
  stores: StoreRegistry;
  signers: SignerRegistry;
  checkpoints: CheckpointStore;
  signing: ExactlyOnceSigner;
  metrics: WorkerMetrics;
}

export interface JobIdentity {
  queue: string;
  jobId: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** RFC 4514 order is the reverse of the certificate's; node lists RDNs one per line in certificate order. */
function subjectOf(certificate: Uint8Array): string {
  return new X509Certificate(certificate).subject.split("\n").reverse().join(",");
}

const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

/**
 * The revisions appended to the input: the signature revision; for B-LT and B-LTA a /DSS revision
 * with the validation data (the signer's own, or fetched) and its /VRI; for B-LTA a document
 * time-stamp over all of it.
 */
async function signedRevisions(
  job: SignJob,
  entry: SignerEntry,
  source: StoredObjectSource,
  prepared: PreparedCheckpoint,
  signatureRevision: Uint8Array,
  signature: SignatureCheckpoint,
): Promise<Uint8Array> {
  if (job.level === "B-B" || job.level === "B-T") return signatureRevision;
  const [, gapStart, gapEnd] = prepared.byteRange;
  const withDss = await appendValidationData(
    new ConcatSource(source, signatureRevision),
    { cms: fromBase64(signature.cmsBase64), capacity: (gapEnd - gapStart - 2) / 2 },
    {
      ...(signature.ltv && {
        ltv: {
          certs: signature.ltv.certs.map(fromBase64),
          ocsps: signature.ltv.ocsps.map(fromBase64),
          crls: signature.ltv.crls.map(fromBase64),
        },
      }),
    },
  );
  if (job.level === "B-LT") return Buffer.concat([signatureRevision, withDss.revision]);
  const timestamp = await appendDocumentTimestamp(withDss.output, entry.documentTimestamper!);
  return Buffer.concat([signatureRevision, withDss.revision, timestamp.revision]);
}

/** Refuses what this job cannot get, before anything is fetched or billed. */
function assertSupported(job: SignJob, entry: SignerEntry): void {
  if (job.level === "B-LTA" && !entry.documentTimestamper) {
    throw new EsignError(
      "E_CONFIG",
      `signer profile ${entry.profile} has no documentTimestampUrls, which B-LTA's document time-stamp needs`,
    );
  }
  if (job.appearance) {
    throw new EsignError("E_FIELD", "visible signature appearances are not supported by this worker yet");
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
  const input = stores.resolve(job.input);
  const output = stores.resolve(job.output);

  const source = await metrics.time("fetch", () => input.store.openSource(input.key));
  try {
    return await signFetched(job, identity, deps, source, entry, output);
  } finally {
    await source.close?.();
  }
}

async function signFetched(
  job: SignJob,
  { queue, jobId, attempt }: JobIdentity,
  { checkpoints, signing, metrics }: SignDocumentDeps,
  source: StoredObjectSource,
  entry: SignerEntry,
  output: { store: ObjectStore; key: string },
): Promise<SignResult> {
  let prepared = await checkpoints.loadPrepared(queue, jobId);
  if (!prepared || prepared.inputEtag !== source.etag || prepared.inputSize !== source.size) {
    prepared = await checkpoints.savePrepared(
      queue,
      jobId,
      await prepareRevision(job, source, entry, metrics),
    );
  }

  const signature = await signing.sign({ queue, jobId, entry, level: job.level }, prepared);
  const revision = await metrics.time("embed", async () => {
    const signatureRevision = embedCms(prepared, fromBase64(signature.cmsBase64));
    return signedRevisions(job, entry, source, prepared, signatureRevision, signature);
  });

  const description = await entry.describe();
  await metrics.time("verify", async () => {
    const hashed = await verifySignedOutput(new ConcatSource(source, revision), {
      fieldName: prepared.fieldName,
      signedLength: prepared.byteRange[2] + prepared.byteRange[3],
      digestAlgorithm: prepared.digestAlgorithm as DigestAlgorithm,
      signer: description,
    });
    metrics.bytesHashed.inc(hashed);
  });

  const written = await metrics.time("upload", () =>
    output.store.writeSignedOutput(output.key, source, revision),
  );
  return {
    schemaVersion: SCHEMA_VERSION,
    output: job.output,
    size: written.size,
    sha256: written.sha256,
    fieldName: prepared.fieldName,
    signingTime: prepared.signingTime,
    level: job.level,
    signerSubject: subjectOf(description.certificate),
    signatureId: prepared.digestHex,
    attempts: attempt,
  };
}
