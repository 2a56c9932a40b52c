import { EsignError } from "@esign/errors";
import { digestAlgorithmOf, OID, parseCms } from "@esign/pades";
import {
  type ByteSource,
  ConcatSource,
  openPdf,
  type PdfLimits,
  prepareSignature,
  type SignatureOptions,
} from "@esign/pdf";
import type { PadesLevel, Signer } from "@esign/signers";

export type FieldOptions = Omit<SignatureOptions, "contentsSize" | "kind" | "signingTime">;

export interface SignPdfOptions {
  level: PadesLevel;
  field?: FieldOptions;
  /** Claimed signing time written as /M. Default: now. */
  signingTime?: Date;
  /** Bytes reserved for the CMS; default: the signer's own estimate for the level. */
  contentsSize?: number;
  limits?: Partial<PdfLimits>;
}

export interface SignedPdf {
  /** The bytes appended to the original, in order (signature revision, then DSS, then doc time-stamp). */
  revisions: Uint8Array[];
  /** Original followed by every revision, without copying the original. */
  output: ByteSource;
  fieldName: string;
  level: PadesLevel;
  signingTime: Date;
  /** The digest that left the premises, hex. Doubles as the signature's id. */
  documentDigest: string;
}

/**
 * Signs a PDF by incremental update: prepare the revision, hash its byte range locally, let the
 * signer turn only that digest into a CMS, check the CMS covers our digest, embed it.
 */
export async function signPdf(
  source: ByteSource,
  signer: Signer,
  options: SignPdfOptions,
): Promise<SignedPdf> {
  const doc = await openPdf(source, options.limits);
  const { signatureAlgorithm } = await signer.describe();
  const digestAlgorithm = digestAlgorithmOf(signatureAlgorithm);
  const contentsSize = options.contentsSize ?? (await signer.estimateCmsSize(options.level));
  const signingTime = options.signingTime ?? new Date();
  const prepared = await prepareSignature(doc, { ...options.field, signingTime, contentsSize });
  const documentDigest = await prepared.digest(digestAlgorithm);

  const { cms } = await signer.sign({ documentDigest, digestAlgorithm, level: options.level });
  assertCoversDigest(cms, documentDigest);
  const revision = prepared.embed(cms);

  return {
    revisions: [revision],
    output: new ConcatSource(source, revision),
    fieldName: prepared.fieldName,
    level: options.level,
    signingTime,
    documentDigest: Buffer.from(documentDigest).toString("hex"),
  };
}

/** A CMS from any backend must sign our digest; a service that answers for another document is caught here. */
function assertCoversDigest(cms: Uint8Array, documentDigest: Uint8Array): void {
  const attribute = parseCms(cms).signerInfos[0]?.signedAttributes.find((a) => a.type === OID.messageDigest);
  const encoded = attribute?.values[0];
  // OCTET STRING with a short-form length: a digest is at most 64 bytes.
  const messageDigest = encoded?.[0] === 0x04 ? encoded.subarray(2, 2 + (encoded[1] ?? 0)) : undefined;
  if (!messageDigest || Buffer.compare(messageDigest, documentDigest) !== 0) {
    throw new EsignError(
      "E_SIGNATURE_MISMATCH",
      "the CMS returned by the signer does not cover this document's digest",
    );
  }
}
