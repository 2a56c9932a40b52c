import {
  prepareVisibleSignature,
  signatureTemplateValues,
  type VisibleSignatureOptions,
} from "@esign/appearance";
import { EsignError } from "@esign/errors";
import { digestAlgorithmOf, OID, parseCms, type RevocationOptions } from "@esign/pades";
import {
  type ByteSource,
  ConcatSource,
  openPdf,
  type PdfLimits,
  prepareSignature,
  type SignatureOptions,
} from "@esign/pdf";
import type { PadesLevel, Signer } from "@esign/signers";
import { appendDocumentTimestamp, appendValidationData, type DocumentTimestamper } from "./ltv";

export type FieldOptions = Omit<SignatureOptions, "contentsSize" | "kind" | "signingTime">;

export interface SignPdfOptions {
  level: PadesLevel;
  field?: FieldOptions;
  /** Claimed signing time written as /M. Default: now. */
  signingTime?: Date;
  /** Bytes reserved for the CMS; default: the signer's own estimate for the level. */
  contentsSize?: number;
  limits?: Partial<PdfLimits>;
  /** The time-stamp authority for the /DocTimeStamp of B-LTA (e.g. a TsaClient). */
  documentTimestamper?: DocumentTimestamper;
  /** Timeouts for fetching OCSP responses and CRLs (B-LT when the signer sends no LTV data). */
  revocation?: RevocationOptions;
  /** Makes the signature visible: where (field, rectangle or text anchor) and what (text, image). */
  appearance?: VisibleSignatureOptions;
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
  // Refuse before the remote call: a signature we cannot extend to the asked level is a waste.
  if (options.level === "B-LTA" && !options.documentTimestamper) {
    throw new EsignError("E_CONFIG", "PAdES B-LTA needs a time-stamp authority for the document time-stamp");
  }
  const doc = await openPdf(source, options.limits);
  // Size first: a signer that learns about itself from a probe (esign-api) then describes for free.
  const contentsSize = options.contentsSize ?? (await signer.estimateCmsSize(options.level));
  const { signatureAlgorithm, certificate } = await signer.describe();
  const digestAlgorithm = digestAlgorithmOf(signatureAlgorithm);
  const signingTime = options.signingTime ?? new Date();
  const field = { ...options.field };
  if (options.appearance) {
    const { placement } = options.appearance;
    const visible = await prepareVisibleSignature(
      doc,
      source,
      {
        ...options.appearance,
        // Filling an existing field: the one the field options name, unless the placement names one.
        placement: placement.kind === "field" ? { fieldName: field.fieldName, ...placement } : placement,
      },
      signatureTemplateValues(certificate, signingTime, field),
    );
    field.widget = visible;
    field.fieldName = visible.fieldName ?? field.fieldName;
  }
  const prepared = await prepareSignature(doc, { ...field, signingTime, contentsSize });
  const documentDigest = await prepared.digest(digestAlgorithm);

  const { cms, ltv } = await signer.sign({ documentDigest, digestAlgorithm, level: options.level });
  assertCoversDigest(cms, documentDigest);
  const revisions = [prepared.embed(cms)];
  let output: ByteSource = new ConcatSource(source, revisions[0]!);

  if (options.level === "B-LT" || options.level === "B-LTA") {
    const dss = await appendValidationData(
      output,
      { cms, capacity: prepared.contentsCapacity },
      { ltv, revocation: options.revocation, limits: options.limits },
    );
    revisions.push(dss.revision);
    output = dss.output;
  }
  if (options.level === "B-LTA") {
    const timestamp = await appendDocumentTimestamp(output, options.documentTimestamper!, options.limits);
    revisions.push(timestamp.revision);
    output = timestamp.output;
  }

  return {
    revisions,
    output,
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
