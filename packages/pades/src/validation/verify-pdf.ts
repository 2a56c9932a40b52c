import {
  type ByteSource,
  hashByteRange,
  type OpenOptions,
  openPdf,
  type PdfDict,
  type PdfDocument,
  type PdfObject,
  PdfStream,
  type SignatureInfo,
  signatureFields,
} from "@esign/pdf";
import { parseCms } from "../cms/parse";
import { certificatesOfSignature } from "../ltv/gather";
import { checkLtvEnabled, type LtvGap } from "../ltv/ltv-enabled";
import type { DigestAlgorithm } from "../pki/algorithms";
import { DEFAULT_REVOCATION_GRACE_MS } from "../revocation/freshness";
import { type RevocationStatus, revocationStatus } from "../revocation/policies";
import {
  analyseLaterRevisions,
  type DocumentChange,
  type Modifications,
  RevisionChain,
} from "./changes/analyse";
import { lockPermission, type ModificationPolicy, signatureLocks } from "./changes/policy";
import { type Indication, indicationOf, type SubIndication } from "./indication";
import {
  checkCertificatePaths,
  cryptoFindings,
  type PathToCheck,
  type RevocationEvidence,
  signerUsageFindings,
  signingTimeFindings,
  tsaUsageFindings,
  type ValidationFinding,
} from "./path-checks";
import { openRevision } from "./revisions";
import {
  type CmsVerification,
  type TimestampVerification,
  verifyCms,
  verifyTimestampToken,
} from "./verify-cms";

export type PadesLevelFound = "B-B" | "B-T" | "B-LT" | "B-LTA";

export interface PdfSignatureReport {
  fieldName: string;
  type: "Sig" | "DocTimeStamp";
  subFilter: string | undefined;
  byteRange: number[];
  /** The byte range is well formed: starts at 0, its gap is exactly the /Contents hex string. */
  byteRangeValid: boolean;
  /** The signature covers the file to its last byte. */
  coversWholeFile: boolean;
  /** Length of the revision the signature covers. */
  signedLength: number;
  /** /M as written and as ISO time. */
  claimedSigningTime: string | undefined;
  reason: string | undefined;
  location: string | undefined;
  /** Subject of the signer (or TSA) certificate. */
  signer: string | undefined;
  /** CMS checks of a /Sig, including its signature time-stamp. */
  cms: CmsVerification | undefined;
  /** Token checks of a /DocTimeStamp. */
  documentTimestamp: TimestampVerification | undefined;
  /** Revocation status of the signer certificate according to the /DSS (absent without one). */
  revocation: RevocationStatus | undefined;
  /** Highest PAdES baseline level this signature reaches in the file as it is. */
  level: PadesLevelFound | undefined;
  /** What the revisions after this signature changed, judged under DocMDP, FieldMDP and approval rules. */
  modifications: Modifications;
  changes: DocumentChange[];
  /**
   * Broken rules beyond integrity and trust, each with the sub-indication it leads to: a revoked
   * certificate on a path, missing revocation data, refused algorithms, key usages, /M after the time-stamp.
   */
  findings: ValidationFinding[];
  /** ETSI EN 319 102-1 verdict: TOTAL-PASSED only when intact, allowed changes only, and trusted. */
  indication: Indication;
  /** null with TOTAL-PASSED (kept in the JSON, where undefined would vanish). */
  subIndication: SubIndication | null;
  /** Every certificate on its paths has revocation data in the /DSS or is exempt (Acrobat's "LTV enabled"). */
  ltvEnabled: boolean;
  /** The certificates that keep it from being LTV enabled, and what each lacks. */
  ltvGaps: LtvGap[];
  /** Integrity and byte range hold (the signature is intact), whatever the trust. */
  valid: boolean;
  /** Valid, and the certificate chains to a trust root. */
  trusted: boolean;
  problems: string[];
}

export interface DssSummary {
  certs: number;
  ocsps: number;
  crls: number;
  vri: number;
}

export interface PdfVerificationReport {
  size: number;
  signatures: PdfSignatureReport[];
  dss: DssSummary | undefined;
  /** Every signature is valid and trusted, and after each only allowed changes were made. */
  valid: boolean;
}

export interface VerifyPdfOptions {
  trustRoots: Uint8Array[];
  /** User or owner password of an encrypted PDF (without one, the empty user password is tried). */
  password?: string;
  /** When certificates must be valid if no valid signature time-stamp says otherwise. Default: now. */
  validationTime?: Date;
  /** Ask OCSP responders and CRL distribution points for statuses the /DSS lacks. Default: false. */
  online?: boolean;
  /** Clock drift allowed on thisUpdate/nextUpdate and between /M and the time-stamp. Default 5 minutes. */
  revocationGraceMs?: number;
}

/** The /DSS of a document: its counts, and its certificates, OCSP responses and CRLs, DER. */
export interface DssContents {
  summary: DssSummary;
  certs: Uint8Array[];
  ocsps: Uint8Array[];
  crls: Uint8Array[];
}

async function streamList(doc: PdfDocument, value: PdfObject | undefined): Promise<Uint8Array[]> {
  const items = (await doc.resolveArray(value)) ?? [];
  const streams: Uint8Array[] = [];
  for (const item of items) {
    const stream = await doc.resolve(item);
    if (stream instanceof PdfStream) streams.push(await doc.streamBytes(stream));
  }
  return streams;
}

/** Reads the document's /DSS (undefined when it has none). */
export async function readDss(doc: PdfDocument): Promise<DssContents | undefined> {
  const dss = await doc.resolveDict((await doc.catalog()).get("DSS"));
  if (!dss) return undefined;
  const certs = await streamList(doc, dss.get("Certs"));
  const ocsps = await streamList(doc, dss.get("OCSPs"));
  const crls = await streamList(doc, dss.get("CRLs"));
  const vri = await doc.resolveDict(dss.get("VRI"));
  return {
    summary: { certs: certs.length, ocsps: ocsps.length, crls: crls.length, vri: vri?.entries.size ?? 0 },
    certs,
    ocsps,
    crls,
  };
}

async function checkByteRange(info: SignatureInfo, source: ByteSource): Promise<string[]> {
  const [start, gapStart, gapEnd, tailLength] = info.byteRange;
  if (
    info.byteRange.length !== 4 ||
    start === undefined ||
    gapStart === undefined ||
    gapEnd === undefined ||
    tailLength === undefined
  ) {
    return ["/ByteRange does not have four numbers"];
  }
  const problems: string[] = [];
  if (start !== 0) problems.push("/ByteRange does not start at 0");
  if (gapEnd + tailLength > source.size) problems.push("/ByteRange runs past the end of the file");
  // The gap must be exactly the `<hex>` /Contents token, delimiters included, and nothing else.
  const opening = await source.read(gapStart, 1);
  const closing = await source.read(gapEnd - 1, 1);
  if (gapEnd - gapStart !== info.contents.length * 2 + 2 || opening[0] !== 0x3c || closing[0] !== 0x3e) {
    problems.push("the /ByteRange gap is not exactly the /Contents string");
  }
  return problems;
}

async function verifyOne(
  source: ByteSource,
  field: { name: string; signature: SignatureInfo },
  options: VerifyPdfOptions,
): Promise<PdfSignatureReport> {
  const info = field.signature;
  const problems = await checkByteRange(info, source);
  const signedLength = (info.byteRange[2] ?? 0) + (info.byteRange[3] ?? 0);
  const report: PdfSignatureReport = {
    fieldName: field.name,
    type: info.type,
    subFilter: info.subFilter,
    byteRange: info.byteRange,
    byteRangeValid: problems.length === 0,
    coversWholeFile: signedLength === source.size,
    signedLength,
    claimedSigningTime: info.signingTime?.toISOString() ?? info.signingTimeText,
    reason: info.reason,
    location: info.location,
    signer: undefined,
    cms: undefined,
    documentTimestamp: undefined,
    revocation: undefined,
    level: undefined,
    modifications: "none",
    changes: [],
    findings: [],
    indication: "INDETERMINATE",
    subIndication: null,
    ltvEnabled: false,
    ltvGaps: [],
    valid: false,
    trusted: false,
    problems,
  };
  if (!report.byteRangeValid) return report;

  const digestContent = async (algorithm: DigestAlgorithm) =>
    new Uint8Array(await hashByteRange(source, info.byteRange, algorithm));
  try {
    let checked: CmsVerification | TimestampVerification;
    if (info.type === "DocTimeStamp") {
      checked = await verifyTimestampToken(info.contents, digestContent, options.trustRoots);
      report.documentTimestamp = checked;
    } else {
      checked = await verifyCms(info.contents, {
        digestContent,
        trustRoots: options.trustRoots,
        validationTime: options.validationTime,
      });
      report.cms = checked;
    }
    const stamp = "signatureTimestamp" in checked ? checked.signatureTimestamp : undefined;
    if (info.type === "DocTimeStamp") {
      report.findings.push(
        ...cryptoFindings(checked, "document time-stamp"),
        ...tsaUsageFindings(checked, "document time-stamp"),
      );
    } else {
      report.findings.push(
        ...cryptoFindings(checked, "signature"),
        ...(stamp ? cryptoFindings(stamp, "signature time-stamp") : []),
        ...signerUsageFindings(checked),
        ...(stamp ? tsaUsageFindings(stamp, "signature time-stamp") : []),
      );
      const times = signingTimeFindings(
        info.signingTime,
        stamp?.valid ? new Date(stamp.genTime) : undefined,
        options.revocationGraceMs ?? DEFAULT_REVOCATION_GRACE_MS,
      );
      report.findings.push(...times.findings);
      problems.push(...times.notes);
    }
    report.signer = checked.signer?.subject;
    report.valid = checked.valid;
    report.trusted = checked.valid && checked.trusted;
    problems.push(...checked.problems, ...checked.chain.problems);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  if (info.type === "Sig" && info.signingTime === undefined) problems.push("no /M (claimed signing time)");
  return report;
}

/**
 * When the signer certificate had to be good: when its signature time-stamp (if valid) says the
 * signature existed, else the validation time. Revocation data gathered after that time covers it.
 */
function signatureTime(report: PdfSignatureReport, options: VerifyPdfOptions): Date | undefined {
  const stamp = report.cms?.signatureTimestamp;
  return stamp?.valid ? new Date(stamp.genTime) : options.validationTime;
}

/**
 * Revocation and algorithms on every path of a signature: the signer's (judged at the signature's
 * time) and its time-stamp authority's (judged at the token's genTime). A revocation does not
 * count when a proof of existence precedes it: for the signer, its signature time-stamp or a later
 * archive time-stamp; for a time-stamp token, a later archive time-stamp (`archivedAt`, the
 * earliest good document time-stamp over it). A token's own genTime is only its TSA's claim: a
 * TSA revoked after it with no archive time-stamp before the revocation is REVOKED_NO_POE.
 */
async function judgePaths(
  report: PdfSignatureReport,
  info: SignatureInfo,
  dssCertificates: Uint8Array[],
  evidence: RevocationEvidence,
  archivedAt: Date | undefined,
  options: VerifyPdfOptions & { now: Date; graceMs: number },
): Promise<void> {
  const paths: PathToCheck[] = [];
  const signed = report.cms ?? report.documentTimestamp;
  const stamp = report.cms?.signatureTimestamp ?? report.documentTimestamp;
  if (report.cms?.signerCertificate) {
    const stampedAt = report.cms.signatureTimestamp?.valid
      ? new Date(report.cms.signatureTimestamp.genTime)
      : undefined;
    const provenAt = earliest(stampedAt, archivedAt);
    paths.push({
      role: "signer",
      certificate: report.cms.signerCertificate,
      at: provenAt ?? options.now,
      provenAt,
    });
  }
  if (stamp?.signerCertificate && stamp.valid) {
    const role = report.documentTimestamp ? "document time-stamp" : "signature time-stamp";
    const genTime = new Date(stamp.genTime);
    paths.push({
      role,
      certificate: stamp.signerCertificate,
      at: genTime,
      provenAt: archivedAt,
      claimedAt: genTime,
    });
  }
  if (!signed || paths.length === 0) return;
  const carried =
    info.type === "DocTimeStamp"
      ? parseCms(info.contents).certificates
      : certificatesOfSignature(info.contents);
  const { findings, notes } = await checkCertificatePaths(paths, evidence, {
    trustRoots: options.trustRoots,
    pool: [...carried, ...dssCertificates, ...options.trustRoots],
    now: options.now,
    graceMs: options.graceMs,
    online: options.online ?? false,
  });
  report.findings.push(...findings);
  report.problems.push(...notes);
}

function earliest(...times: Array<Date | undefined>): Date | undefined {
  const known = times.filter((time): time is Date => time !== undefined);
  return known.length === 0 ? undefined : new Date(Math.min(...known.map((time) => time.getTime())));
}

/**
 * The earliest proof of existence a later archive (document) time-stamp gives what signature
 * `index` covers: the genTime of a valid, trusted document time-stamp over its revision whose own
 * paths hold (no findings; judged before, as the signatures are judged from the last).
 */
function archiveTime(signatures: PdfSignatureReport[], index: number): Date | undefined {
  const covered = signatures[index]!.signedLength;
  return earliest(
    ...signatures
      .slice(index + 1)
      .filter(
        (later) =>
          later.documentTimestamp !== undefined &&
          later.signedLength > covered &&
          later.valid &&
          later.trusted &&
          later.findings.length === 0,
      )
      .map((later) => new Date(later.documentTimestamp!.genTime)),
  );
}

/** PAdES baseline level of a /Sig, given what the rest of the file adds. */
function levelOf(
  report: PdfSignatureReport,
  laterDocumentTimestamps: PdfSignatureReport[],
  dssRevision: number | undefined,
): PadesLevelFound | undefined {
  const cms = report.cms;
  if (!cms?.valid || !cms.padesBaselineAttributes || report.subFilter !== "ETSI.CAdES.detached")
    return undefined;
  const timestamped = cms.signatureTimestamp?.valid === true || laterDocumentTimestamps.length > 0;
  if (!timestamped) return "B-B";
  if (report.revocation === undefined || report.revocation.status !== "good" || dssRevision === undefined)
    return "B-T";
  // B-LTA: a document time-stamp over the revision that holds the validation data.
  const archived = laterDocumentTimestamps.some((stamp) => stamp.signedLength >= dssRevision);
  return archived ? "B-LTA" : "B-LT";
}

/** Length of the first revision (as covered by a signature) that has a /DSS, if any signature covers one. */
async function firstRevisionWithDss(
  source: ByteSource,
  lengths: number[],
  open: OpenOptions,
): Promise<number | undefined> {
  for (const length of [...lengths].sort((a, b) => a - b)) {
    const revision =
      length === source.size ? await openPdf(source, open) : await openRevision(source, length, open);
    if ((await revision.catalog()).has("DSS")) return length;
  }
  return undefined;
}

type SignedField = { name: string; dict: PdfDict; signature: SignatureInfo } & Parameters<
  typeof signatureLocks
>[1];

/**
 * The rules for the revisions after signature `index` (fields sorted by signed length): the
 * certification signature's P when it came first, made stricter by a /Lock /P, and the FieldMDP
 * locks of this and every earlier signature.
 */
async function modificationPolicy(
  doc: PdfDocument,
  fields: SignedField[],
  index: number,
): Promise<ModificationPolicy> {
  const upTo = fields.slice(0, index + 1);
  const permissions = upTo.map((field) => field.signature.docMdpPermission);
  for (const field of upTo) permissions.push(await lockPermission(doc, field));
  const given = permissions.filter((p): p is NonNullable<typeof p> => p !== undefined);
  const locks = (await Promise.all(upTo.map((field) => signatureLocks(doc, field)))).flat();
  return {
    docMdp: given.length === 0 ? undefined : (Math.min(...given) as ModificationPolicy["docMdp"]),
    locked: (name) => locks.some((lock) => lock(name)),
  };
}

/**
 * Verifies every signature and document time-stamp of a PDF: byte range, CMS integrity, signer
 * certificate binding, chain to `trustRoots`, time-stamps, revocation data in /DSS, the PAdES
 * level reached, and what later revisions changed. The data behind `esign verify --json`.
 */
export async function verifyPdfSignatures(
  source: ByteSource,
  options: VerifyPdfOptions,
): Promise<PdfVerificationReport> {
  const open: OpenOptions = { password: options.password };
  const doc = await openPdf(source, open);
  const fields = (await signatureFields(doc))
    .filter((field): field is typeof field & { signature: SignatureInfo } => field.signature !== undefined)
    .sort((a, b) => (a.signature.byteRange[2] ?? 0) - (b.signature.byteRange[2] ?? 0));
  const dss = await readDss(doc);
  const now = options.validationTime ?? new Date();
  const graceMs = options.revocationGraceMs ?? DEFAULT_REVOCATION_GRACE_MS;
  // What --online fetches joins the /DSS's data, for the signatures after it too.
  const evidence: RevocationEvidence = { ocsps: [...(dss?.ocsps ?? [])], crls: [...(dss?.crls ?? [])] };
  const signatures: PdfSignatureReport[] = [];
  for (const field of fields) signatures.push(await verifyOne(source, field, options));
  // From the last: a document time-stamp's own paths are judged before it proves what it covers.
  for (let index = signatures.length - 1; index >= 0; index--) {
    const report = signatures[index]!;
    if (!report.valid) continue;
    const archivedAt = archiveTime(signatures, index);
    await judgePaths(report, fields[index]!.signature, dss?.certs ?? [], evidence, archivedAt, {
      ...options,
      now,
      graceMs,
    });
  }
  for (const [index, report] of signatures.entries()) {
    const info = fields[index]!.signature;
    const certificate = report.cms?.signerCertificate;
    if ((dss || options.online) && certificate) {
      const pool = [...parseCms(info.contents).certificates, ...(dss?.certs ?? []), ...options.trustRoots];
      report.revocation = revocationStatus(certificate, pool, evidence.ocsps, evidence.crls, {
        at: signatureTime(report, options),
        now,
        graceMs,
      });
    }
    try {
      const certificates =
        info.type === "DocTimeStamp"
          ? parseCms(info.contents).certificates
          : certificatesOfSignature(info.contents);
      const ltv = checkLtvEnabled(certificates, dss, options.trustRoots, {
        at: signatureTime(report, options),
        now: options.validationTime,
      });
      report.ltvEnabled = ltv.ltvEnabled;
      report.ltvGaps = ltv.gaps;
    } catch (error) {
      report.ltvGaps = [
        {
          certificate: "?",
          missing: `readable certificates (${error instanceof Error ? error.message : error})`,
        },
      ];
    }
  }
  const revisions = new RevisionChain(doc, open);
  for (const [index, report] of signatures.entries()) {
    if (!report.byteRangeValid || report.coversWholeFile) continue;
    try {
      const policy = await modificationPolicy(doc, fields, index);
      Object.assign(report, await analyseLaterRevisions(report.signedLength, policy, revisions));
    } catch (error) {
      // What cannot be compared cannot be vouched for.
      report.modifications = "disallowed";
      report.problems.push(
        `cannot compare with later revisions: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  // Revisions past the whole file length do not exist; the whole file counts as a revision for /DSS.
  const dssRevision = dss
    ? await firstRevisionWithDss(source, [...signatures.map((s) => s.signedLength), source.size], open)
    : undefined;
  for (const report of signatures) {
    if (report.type !== "Sig") continue;
    const laterStamps = signatures.filter(
      (other) => other.type === "DocTimeStamp" && other.valid && other.signedLength > report.signedLength,
    );
    report.level = levelOf(report, laterStamps, dssRevision);
  }
  const chainChecked = options.trustRoots.length > 0;
  for (const report of signatures) Object.assign(report, indicationOf(report, chainChecked));
  return {
    size: source.size,
    signatures,
    dss: dss?.summary,
    valid: signatures.length > 0 && signatures.every((s) => s.trusted && s.modifications !== "disallowed"),
  };
}
