import { createHash } from "node:crypto";
import { EsignError } from "@esign/errors";
import {
  certificatesOfSignature,
  checkLtvEnabled,
  checkReturnedCms,
  type LtvCheck,
  type RevocationOptions,
  readDss,
} from "@esign/pades";
import {
  type ByteSource,
  ConcatSource,
  embedSignatureContents,
  hashByteRange,
  signatureFields,
} from "@esign/pdf";
import type { SignerDescription, SignRequest, SignResult } from "@esign/signers";
import { appendDocumentTimestamp, appendValidationData, type DocumentTimestamper } from "./ltv";
import {
  assertPreparedFor,
  digestOf,
  hashedLengthOf,
  ltvGapWarnings,
  type OpenInputOptions,
  openInput,
  type Prepared,
  signedLengthOf,
  type VersionedSource,
} from "./prepare";

export interface CompleteOptions extends OpenInputOptions {
  /** The time-stamp authority for the /DocTimeStamp of B-LTA (e.g. a TsaClient). */
  documentTimestamper?: DocumentTimestamper;
  /** Timeouts for fetching OCSP responses and CRLs (B-LT when the signer sends no LTV data). */
  revocation?: RevocationOptions;
}

export interface SignedPdf {
  /** The bytes appended to the original, in order (signature revision, then DSS, then doc time-stamp). */
  revisions: Uint8Array[];
  /** Original followed by every revision, without copying the original. */
  output: ByteSource;
  fieldName: string;
  level: Prepared["level"];
  signingTime: Date;
  /** The digest that left the premises, hex. Doubles as the signature's id. */
  documentDigest: string;
  /** Found before signing (`Prepared.warnings`); `verifyOutput`'s own come with its answer. */
  warnings: string[];
}

/** What `verifyOutput` found in a signed document that passed. */
export interface OutputCheck {
  /** The bytes hashed again. */
  hashedLength: number;
  /**
   * B-LT and B-LTA: whether the output is "LTV enabled" as Acrobat judges it (every certificate on
   * the signature's and time-stamps' paths has revocation data in the /DSS), and which lack what.
   */
  ltv?: LtvCheck;
  /** The prepared warnings, then one per certificate that keeps the output from being LTV enabled. */
  warnings: string[];
}

/** Refuses, before anything is prepared or paid for, a level these options cannot complete. */
export function assertCompletable(level: Prepared["level"], options: CompleteOptions): void {
  if (level === "B-LTA" && !options.documentTimestamper) {
    throw new EsignError("E_CONFIG", "PAdES B-LTA needs a time-stamp authority for the document time-stamp");
  }
}

/** What the signer is asked for: the digest of the byte range and its algorithm, nothing else. */
export function signRequestOf(prepared: Prepared): SignRequest {
  const { digest, algorithm } = digestOf(prepared);
  return { documentDigest: digest, digestAlgorithm: algorithm, level: prepared.level };
}

/**
 * The check a signer's answer passes before it is kept or embedded: the CMS signs our digest,
 * with the expected certificate when one is known. Run it on every answer, local or remote.
 */
export async function checkSignResult(
  prepared: Prepared,
  result: SignResult,
  signer?: Pick<SignerDescription, "certificate">,
): Promise<void> {
  await checkReturnedCms(result.cms, {
    documentDigest: digestOf(prepared).digest,
    ...(signer && { certificate: signer.certificate }),
  });
}

/**
 * Finishes a prepared signature with the signer's answer: writes the CMS into the placeholder,
 * then for B-LT a /DSS revision with the validation data (the signer's own, or fetched) and its
 * /VRI, and for B-LTA a document time-stamp over all of it. The answer must have passed
 * `checkSignResult`; `verifyOutput` then checks what a reader will see.
 */
export async function complete(
  source: VersionedSource,
  prepared: Prepared,
  result: SignResult,
  options: CompleteOptions = {},
): Promise<SignedPdf> {
  assertPreparedFor(prepared, source);
  assertCompletable(prepared.level, options);
  const placeholderAt = prepared.byteRange[1] - prepared.input.size;
  const revisions = [
    embedSignatureContents(
      Buffer.from(prepared.revision, "base64"),
      placeholderAt,
      prepared.contentsCapacity,
      result.cms,
    ),
  ];
  let output: ByteSource = new ConcatSource(source, revisions[0]!);

  if (prepared.level === "B-LT" || prepared.level === "B-LTA") {
    const dss = await appendValidationData(
      output,
      { cms: result.cms, capacity: prepared.contentsCapacity },
      { ...options, ltv: result.ltv },
    );
    revisions.push(dss.revision);
    output = dss.output;
  }
  if (prepared.level === "B-LTA") {
    const timestamp = await appendDocumentTimestamp(output, options.documentTimestamper!, options);
    revisions.push(timestamp.revision);
    output = timestamp.output;
  }
  return {
    revisions,
    output,
    fieldName: prepared.fieldName,
    level: prepared.level,
    signingTime: new Date(prepared.signingTime),
    documentDigest: prepared.digest,
    warnings: prepared.warnings ?? [],
  };
}

/**
 * Re-opens the finished document as a reader would and checks the new signature (with
 * `openedInput`, the input's revisions are taken from it rather than parsed again, with the same
 * result, so only the revisions written here are parsed): its field is signed, with the prepared /ByteRange, holding the CMS that was checked, and those bytes still
 * hash to the prepared digest (so the CMS, which signs that digest, verifies). At B-LT and B-LTA
 * it also judges, from the same parse, whether the output is "LTV enabled": not being so is a
 * warning, not a failure. Failing here means our own output is wrong: E_VERIFY, permanent.
 */
export async function verifyOutput(
  output: ByteSource,
  prepared: Prepared,
  result: Pick<SignResult, "cms">,
  options: OpenInputOptions = {},
): Promise<OutputCheck> {
  const check = await verifyOutputStructure(output, prepared, result, options);
  const { digest, algorithm } = digestOf(prepared);
  const rehashed = await hashByteRange(output, prepared.byteRange, algorithm);
  if (Buffer.compare(rehashed, digest) !== 0) throw byteRangeMismatch();
  return check;
}

/**
 * `verifyOutput` but the hash: for a writer that hashes the byte range of the very bytes it
 * stores on their way out (`byteRangeCheck`), instead of a second pass over the whole document.
 */
export async function verifyOutputStructure(
  output: ByteSource,
  prepared: Prepared,
  result: Pick<SignResult, "cms">,
  options: OpenInputOptions = {},
): Promise<OutputCheck> {
  const doc = await openInput(output, options);
  const fields = await signatureFields(doc);
  const signature = fields.find((field) => field.name === prepared.fieldName)?.signature;
  if (!signature) {
    throw new EsignError("E_VERIFY", `the signed output has no signature in field ${prepared.fieldName}`);
  }
  const sameRange =
    signature.byteRange.length === 4 &&
    signature.byteRange.every((value, index) => value === prepared.byteRange[index]);
  if (!sameRange || signature.byteRange[2]! + signature.byteRange[3]! !== signedLengthOf(prepared)) {
    throw new EsignError("E_VERIFY", "the new signature's /ByteRange is not the one that was hashed");
  }
  const embedded = signature.contents.subarray(0, result.cms.length);
  if (Buffer.compare(embedded, result.cms) !== 0) {
    throw new EsignError("E_VERIFY", "the new signature's /Contents is not the CMS the signer returned");
  }
  const warnings = [...(prepared.warnings ?? [])];
  if (prepared.level !== "B-LT" && prepared.level !== "B-LTA") {
    return { hashedLength: hashedLengthOf(prepared), warnings };
  }
  // Self-signed anchors are exempt; no trust store is needed to say what revocation data is missing.
  const ltv = checkLtvEnabled(certificatesOfSignature(result.cms), await readDss(doc), []);
  warnings.push(...ltvGapWarnings("not LTV enabled", ltv.gaps));
  return { hashedLength: hashedLengthOf(prepared), ltv, warnings };
}

function byteRangeMismatch(): EsignError {
  return new EsignError("E_VERIFY", "the signed output's byte range no longer hashes to the signed digest");
}

/**
 * Hashes the prepared /ByteRange of a document streamed through `update` from its first byte, and
 * refuses it in `final` (E_VERIFY) unless that is the signed digest: the storage write of the
 * output runs its bytes through this, so the bytes stored are the bytes verified, in one pass.
 */
export function byteRangeCheck(prepared: Prepared): {
  update(chunk: Uint8Array): void;
  final(): void;
} {
  const { digest, algorithm } = digestOf(prepared);
  const [, gapStart, gapEnd, tailLength] = prepared.byteRange;
  const hash = createHash(algorithm);
  let offset = 0;
  let hashed = 0;
  const take = (chunk: Uint8Array, from: number, to: number) => {
    const start = Math.max(from, offset) - offset;
    const end = Math.min(to, offset + chunk.length) - offset;
    if (end > start) {
      hash.update(chunk.subarray(start, end));
      hashed += end - start;
    }
  };
  return {
    update(chunk) {
      take(chunk, 0, gapStart);
      take(chunk, gapEnd, gapEnd + tailLength);
      offset += chunk.length;
    },
    final() {
      if (hashed !== hashedLengthOf(prepared) || Buffer.compare(hash.digest(), digest) !== 0) {
        throw byteRangeMismatch();
      }
    },
  };
}
