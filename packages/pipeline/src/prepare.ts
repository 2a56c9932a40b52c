import {
  prepareVisibleSignature,
  signatureTemplateValues,
  type VisibleSignatureOptions,
} from "@esign/appearance";
import { EsignError } from "@esign/errors";
import {
  DIGEST_ALGORITHMS,
  type DigestAlgorithm,
  digestAlgorithmOf,
  type LtvGap,
  ltvReadinessGaps,
} from "@esign/pades";
import {
  type ByteSource,
  openPdf,
  type PdfDocument,
  type PdfLimits,
  prepareSignature,
  requirePermission,
  type SignatureOptions,
} from "@esign/pdf";
import type { PadesLevel, Signer, SignerDescription } from "@esign/signers";
import { z } from "zod";

export type FieldOptions = Omit<SignatureOptions, "contentsSize" | "kind" | "signingTime">;

const PADES_LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"] as const satisfies readonly PadesLevel[];

/**
 * A signature revision as it was hashed, before anything is sent to a signing service: plain JSON,
 * so a worker can checkpoint it and a retry (another attempt, another process) can finish the
 * same signature. The revision is kept as bytes, not as a recipe: every incremental update gets a
 * fresh random second /ID in its trailer, inside the signed byte range, so a rebuilt revision
 * would have another digest and need another, billed, signature.
 */
export const PreparedSchema = z.object({
  version: z.literal(1),
  /** The input the revision extends; another input (size or store etag) cannot take it. */
  input: z.object({ size: z.int().min(0), etag: z.string().optional() }),
  /** The revision appended to the input, its /Contents placeholder still zeros, base64. */
  revision: z.string(),
  /** [0, a, b, c]: a = offset of `<` of /Contents in the output, b = just after `>`. */
  byteRange: z.tuple([z.int(), z.int(), z.int(), z.int()]),
  /** Bytes of DER the /Contents placeholder holds. */
  contentsCapacity: z.int().min(1),
  fieldName: z.string(),
  /** The /M written into the signature dictionary. */
  signingTime: z.iso.datetime({ offset: true }),
  level: z.enum(PADES_LEVELS),
  digestAlgorithm: z.enum(DIGEST_ALGORITHMS),
  /** The digest of the byte range, hex: the only thing about the document that leaves. */
  digest: z.string().regex(/^[0-9a-f]+$/),
  /**
   * What the signer and the caller should know before the signature is asked for, e.g. that a
   * B-LT request cannot reach "LTV enabled". Kept with the revision so a resumed job reports them.
   */
  warnings: z.array(z.string()).optional(),
});
export type Prepared = z.infer<typeof PreparedSchema>;

/** How every stage opens the document: hostile-input limits and, when it is encrypted, its password. */
export interface OpenInputOptions {
  limits?: Partial<PdfLimits>;
  /**
   * User or owner password of an encrypted input (without one, the empty user password is
   * tried). Every stage needs it again: it is never part of `Prepared` or any checkpoint.
   */
  pdfPassword?: string;
  /**
   * The input as this process opened it to prepare (`prepareWithInput`): a stage that opens the
   * input again, or an output over it, then reads only the revisions after the input's, with the
   * result a fresh reader would find. Lives in memory only, never in `Prepared` or a checkpoint.
   */
  openedInput?: PdfDocument;
}

export function openInput(source: ByteSource, options: OpenInputOptions): Promise<PdfDocument> {
  return openPdf(source, {
    limits: options.limits,
    password: options.pdfPassword,
    extends: options.openedInput,
  });
}

export interface PrepareOptions extends OpenInputOptions {
  level: PadesLevel;
  field?: FieldOptions;
  /** Claimed signing time written as /M. Default: now, in whole seconds (what /M can hold). */
  signingTime?: Date;
  /** Bytes reserved for the CMS; default: the signer's own estimate for the level. */
  contentsSize?: number;
  /**
   * Makes the signature visible: where (a field, a rectangle or a text anchor) and what (text
   * template, image, font). The appearance becomes part of the revision, so `Prepared` carries it.
   */
  appearance?: VisibleSignatureOptions;
  /**
   * At B-LT and B-LTA, refuse (E_CERT, before the signer is asked) a signer whose chain cannot
   * reach "LTV enabled" instead of warning about it.
   */
  requireLtv?: boolean;
}

/** What prepare needs to know about the signer: its algorithm and how big its CMS gets. */
export type SignerSizing = Pick<Signer, "describe" | "estimateCmsSize">;

/** A source that knows the version of the object it reads (a store's etag). */
export type VersionedSource = ByteSource & { readonly etag?: string };

/**
 * Builds the signature revision over `source` and hashes its byte range locally. Nothing leaves
 * the premises here except, for signers that size themselves by a probe, that probe.
 */
export async function prepare(
  source: VersionedSource,
  signer: SignerSizing,
  options: PrepareOptions,
): Promise<Prepared> {
  return (await prepareWithInput(source, signer, options)).prepared;
}

/**
 * `prepare`, also giving the input as it opened it: passed on as `openedInput`, it spares the
 * later stages of the same process (complete, verify) parsing the input's revisions again.
 */
export async function prepareWithInput(
  source: VersionedSource,
  signer: SignerSizing,
  options: PrepareOptions,
): Promise<{ prepared: Prepared; input: PdfDocument }> {
  const doc = await openInput(source, options);
  // An encrypted input's permissions must allow the later revisions too: refuse before paying.
  if (options.level === "B-LT" || options.level === "B-LTA") requirePermission(doc, "validation-data");
  if (options.level === "B-LTA") requirePermission(doc, "new-signature-field");
  // Size first: a signer that learns about itself from a probe (esign-api) then describes for free.
  const contentsSize = options.contentsSize ?? (await signer.estimateCmsSize(options.level));
  const description = await signer.describe();
  const { signatureAlgorithm, certificate } = description;
  const warnings = ltvReadinessWarnings(options, description);
  const digestAlgorithm = digestAlgorithmOf(signatureAlgorithm);
  const signingTime = options.signingTime ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const field: FieldOptions = { ...options.field };
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
      options.pdfPassword,
    );
    field.widget = visible;
    field.fieldName = visible.fieldName ?? field.fieldName;
  }
  const prepared = await prepareSignature(doc, { ...field, signingTime, contentsSize });
  const digest = await prepared.digest(digestAlgorithm);
  const revisionBytes = prepared.revision;
  const result: Prepared = {
    version: 1,
    input: { size: source.size, ...(source.etag !== undefined && { etag: source.etag }) },
    revision: Buffer.from(revisionBytes.buffer, revisionBytes.byteOffset, revisionBytes.length).toString(
      "base64",
    ),
    byteRange: prepared.byteRange,
    contentsCapacity: prepared.contentsCapacity,
    fieldName: prepared.fieldName,
    signingTime: signingTime.toISOString(),
    level: options.level,
    digestAlgorithm,
    digest: digest.toString("hex"),
    ...(warnings.length > 0 && { warnings }),
  };
  return { prepared: result, input: doc };
}

/** One line per certificate that keeps a signature from being "LTV enabled", naming it. */
export function ltvGapWarnings(prefix: string, gaps: LtvGap[]): string[] {
  return gaps.map((gap) => `${prefix}: ${gap.certificate} lacks ${gap.missing}`);
}

/**
 * Before signing at B-LT or B-LTA: the signer's certificates that name no OCSP responder and no CRL
 * distribution point, as warnings (signing proceeds: a signer such as the E-sign API may bring the
 * revocation data itself), or E_CERT with `requireLtv`.
 */
function ltvReadinessWarnings(
  options: Pick<PrepareOptions, "level" | "requireLtv">,
  description: SignerDescription,
): string[] {
  if (options.level !== "B-LT" && options.level !== "B-LTA") return [];
  const warnings = ltvGapWarnings(
    `${options.level} cannot reach LTV`,
    ltvReadinessGaps([description.certificate, ...description.chain]),
  );
  if (warnings.length > 0 && options.requireLtv) {
    throw new EsignError("E_CERT", `LTV is required and ${warnings.join("; ")}`);
  }
  return warnings;
}

/** Whether `prepared` was made over this very input (same size, and same etag where known). */
export function preparedFor(prepared: Prepared, source: VersionedSource): boolean {
  return (
    prepared.input.size === source.size &&
    (prepared.input.etag === undefined || source.etag === undefined || prepared.input.etag === source.etag)
  );
}

export function assertPreparedFor(prepared: Prepared, source: VersionedSource): void {
  if (!preparedFor(prepared, source)) {
    throw new EsignError("E_INTERNAL", "the prepared signature was made over another version of the input");
  }
}

/** The length the signature covers: the document up to the end of its own revision. */
export function signedLengthOf(prepared: Prepared): number {
  return prepared.byteRange[2] + prepared.byteRange[3];
}

/** The bytes hashed: the covered length minus the /Contents gap. */
export function hashedLengthOf(prepared: Prepared): number {
  return prepared.byteRange[1] + prepared.byteRange[3];
}

export function digestOf(prepared: Prepared): { digest: Uint8Array; algorithm: DigestAlgorithm } {
  return { digest: Buffer.from(prepared.digest, "hex"), algorithm: prepared.digestAlgorithm };
}
