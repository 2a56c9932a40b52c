import { createHash } from "node:crypto";
import { EsignError } from "@esign/errors";
import {
  contentOf,
  copyOf,
  DER_TAG,
  derOctetString,
  elementsIn,
  isPlainDer,
  oidAt,
  wholeElement,
} from "../asn1/der-reader";
import { OID } from "../asn1/oids";
import { children, octetsOf, oidOf, parseBer, rawBytes } from "../asn1/read";
import { attributeValues, type ParsedCms, type ParsedSignerInfo, parseCms } from "../cms/parse";
import { parseSignatureAlgorithm } from "../pki/algorithm-identifiers";
import { type DigestAlgorithm, digestAlgorithmFromOid, hash, verifyData } from "../pki/algorithms";
import { bytesEqual, certificateIdentity, subjectKeyIdOf, x509Of } from "../pki/certificate";
import { buildChain, type CertificateSummary, type ChainReport, summarizeCertificate } from "../pki/chain";
import { parseTstInfo } from "../timestamp/tst-info";

const SIGNING_CERTIFICATE_V1 = "1.2.840.113549.1.9.16.2.12";

/** Hashes the signed content with the algorithm the signer chose (streamed for PDF byte ranges). */
export type ContentDigester = (algorithm: DigestAlgorithm) => Promise<Uint8Array>;

export interface SignerVerification {
  /** Integrity: message digest, signature, and the signing-certificate binding all hold. */
  valid: boolean;
  /** The signer certificate chains to a trust root, valid at the validation time. */
  trusted: boolean;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  messageDigestMatches: boolean;
  signatureValid: boolean;
  /** Which ESS signing-certificate attribute binds the certificate, or why none does. */
  signingCertificate: "v2" | "v1" | "mismatch" | "absent";
  signer: CertificateSummary | undefined;
  /** DER of the signer certificate, when the CMS carries it (JSON output: encode it, e.g. base64). */
  signerCertificate: Uint8Array | undefined;
  chain: ChainReport;
  signedAttributeTypes: string[];
  problems: string[];
}

export interface TimestampVerification extends SignerVerification {
  genTime: string;
  policy: string;
  /** The token's messageImprint is the hash of the time-stamped data. */
  imprintMatches: boolean;
}

export interface CmsVerification extends SignerVerification {
  /** The unsigned signatureTimeStampToken (B-T), verified against the signature value. */
  signatureTimestamp: TimestampVerification | undefined;
  /** Signed attributes follow PAdES baseline: content-type, message-digest, signing-certificate-v2, no signing-time. */
  padesBaselineAttributes: boolean;
}

export interface VerifyCmsOptions {
  /** The signed content, or `digestContent` to hash it without holding it in memory. */
  content?: Uint8Array;
  digestContent?: ContentDigester;
  trustRoots?: Uint8Array[];
  /** When certificates must be valid if no valid signature time-stamp says otherwise. Default: now. */
  validationTime?: Date;
}

function findSignerCertificate(signer: ParsedSignerInfo, certificates: Uint8Array[]): Uint8Array | undefined {
  const { sid } = signer;
  if ("subjectKeyIdentifier" in sid) {
    const wanted = Buffer.from(sid.subjectKeyIdentifier).toString("hex");
    return certificates.find((der) => subjectKeyIdOf(der) === wanted);
  }
  return certificates.find((der) => {
    const identity = certificateIdentity(der);
    return bytesEqual(identity.serialNumber, sid.serialNumber) && bytesEqual(identity.issuer, sid.issuer);
  });
}

/** The fields of an ESSCertID(v2) that are checked; `algorithmOid` "" when present but unreadable. */
interface EssCertId {
  algorithmOid: string | undefined;
  certHash: Uint8Array | undefined;
  serialNumber: Uint8Array | undefined;
}

/**
 * The first ESSCertID(v2) of a SigningCertificate(V2) value, read by tag and length when it is
 * plain DER of the usual shape (`readEssCertIdFully` gives the same answer for it), else fully.
 */
export function readEssCertId(encoded: Uint8Array, isV2: boolean): EssCertId {
  return readDerEssCertId(encoded, isV2) ?? readEssCertIdFully(encoded, isV2);
}

function readDerEssCertId(encoded: Uint8Array, isV2: boolean): EssCertId | undefined {
  const value = wholeElement(encoded);
  if (value?.tag !== DER_TAG.SEQUENCE || !isPlainDer(encoded, value)) return undefined;
  const [certificates] = elementsIn(encoded, value)!;
  if (certificates?.tag !== DER_TAG.SEQUENCE) return undefined;
  const [essCertId] = elementsIn(encoded, certificates)!;
  if (essCertId?.tag !== DER_TAG.SEQUENCE) return undefined;
  const fields = elementsIn(encoded, essCertId)!;
  // ESSCertIDv2 { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }; v1 has no hashAlgorithm.
  const first = fields[0];
  if (first && (first.tag & 0x1f) === 16 && first.tag !== DER_TAG.SEQUENCE) return undefined;
  const hasAlgorithm = isV2 && first?.tag === DER_TAG.SEQUENCE;
  let algorithmOid: string | undefined;
  if (hasAlgorithm) {
    const [identifier] = elementsIn(encoded, first)!;
    algorithmOid = (identifier && oidAt(encoded, identifier)) ?? "";
  }
  const certHash = fields[hasAlgorithm ? 1 : 0];
  const issuerSerial = fields[hasAlgorithm ? 2 : 1];
  if (certHash && certHash.tag !== DER_TAG.OCTET_STRING) return undefined;
  if (issuerSerial && issuerSerial.tag !== DER_TAG.SEQUENCE) return undefined;
  const serial = issuerSerial ? elementsIn(encoded, issuerSerial)![1] : undefined;
  return {
    algorithmOid,
    certHash: certHash && contentOf(encoded, certHash),
    serialNumber: serial && copyOf(encoded, serial),
  };
}

/** `readEssCertId` through the full ASN.1 parser: BER, other shapes, and its error messages. */
export function readEssCertIdFully(encoded: Uint8Array, isV2: boolean): EssCertId {
  const essCertId = children(children(parseBer(encoded, "signing certificate", "E_VERIFY"))[0]!)[0];
  const fields = essCertId ? children(essCertId) : [];
  const hasAlgorithm = isV2 && fields[0]?.idBlock.tagNumber === 16;
  const certHash = fields[hasAlgorithm ? 1 : 0];
  const issuerSerial = fields[hasAlgorithm ? 2 : 1];
  const serial = issuerSerial ? children(issuerSerial)[1] : undefined;
  return {
    algorithmOid: hasAlgorithm ? (oidOf(children(fields[0]!)[0]) ?? "") : undefined,
    certHash: certHash && octetsOf(certHash),
    serialNumber: serial && rawBytes(serial),
  };
}

/** Checks ESSCertIDv2 (or the SHA-1 ESSCertID) against the signer certificate. */
function checkSigningCertificate(
  signer: ParsedSignerInfo,
  certificate: Uint8Array,
): SignerVerification["signingCertificate"] {
  const v2 = attributeValues(signer.signedAttributes, OID.signingCertificateV2)?.[0];
  const v1 = attributeValues(signer.signedAttributes, SIGNING_CERTIFICATE_V1)?.[0];
  const encoded = v2 ?? v1;
  if (!encoded) return "absent";
  const { algorithmOid, certHash, serialNumber } = readEssCertId(encoded, v2 !== undefined);
  const algorithm =
    algorithmOid !== undefined ? digestAlgorithmFromOid(algorithmOid) : v2 ? "sha256" : "sha1";
  if (!algorithm || !certHash) return "mismatch";
  const hashMatches = bytesEqual(certHash, createHash(algorithm).update(certificate).digest());
  const serialMatches =
    !serialNumber || bytesEqual(serialNumber, certificateIdentity(certificate).serialNumber);
  if (!hashMatches || !serialMatches) return "mismatch";
  return v2 ? "v2" : "v1";
}

/** The message-digest attribute's octets: plain DER read directly, anything else by the full parser. */
export function messageDigestOf(value: Uint8Array): Uint8Array {
  return derOctetString(value) ?? octetsOf(parseBer(value, "message-digest", "E_VERIFY"));
}

/** Verifies the (single) SignerInfo of a SignedData: digest, signature, certificate binding, chain. */
async function verifySigner(
  cms: ParsedCms,
  digestContent: ContentDigester,
  trustRoots: Uint8Array[],
  validationTime: Date,
): Promise<SignerVerification> {
  const problems: string[] = [];
  const signer = cms.signerInfos[0];
  if (cms.signerInfos.length !== 1) problems.push(`expected one SignerInfo, found ${cms.signerInfos.length}`);
  const untrusted: ChainReport = { trusted: false, path: [], problems: [] };
  const report: SignerVerification = {
    valid: false,
    trusted: false,
    digestAlgorithm: signer?.digestAlgorithmOid ?? "",
    signatureAlgorithm: signer?.signatureAlgorithmOid ?? "",
    messageDigestMatches: false,
    signatureValid: false,
    signingCertificate: "absent",
    signer: undefined,
    signerCertificate: undefined,
    chain: untrusted,
    signedAttributeTypes: signer?.signedAttributes.map((attribute) => attribute.type) ?? [],
    problems,
  };
  if (!signer) return report;

  const digestAlgorithm = digestAlgorithmFromOid(signer.digestAlgorithmOid);
  if (digestAlgorithm) report.digestAlgorithm = digestAlgorithm;
  else problems.push(`unsupported digest algorithm ${signer.digestAlgorithmOid}`);
  const signatureAlgorithm = parseSignatureAlgorithm(
    signer.signatureAlgorithmOid,
    signer.signatureAlgorithmParameters,
    digestAlgorithm,
  );
  if (typeof signatureAlgorithm === "string") problems.push(signatureAlgorithm);
  else report.signatureAlgorithm = signatureAlgorithm.name;

  const certificate = findSignerCertificate(signer, cms.certificates);
  if (!certificate) problems.push("the CMS does not carry the signer certificate");
  if (!signer.signedAttributesDer) problems.push("no signed attributes (not a PAdES/CAdES signature)");

  if (digestAlgorithm && signer.signedAttributesDer) {
    const messageDigest = attributeValues(signer.signedAttributes, OID.messageDigest)?.[0];
    const expected = await digestContent(digestAlgorithm);
    report.messageDigestMatches =
      messageDigest !== undefined && bytesEqual(messageDigestOf(messageDigest), expected);
    if (!report.messageDigestMatches)
      problems.push("message-digest does not match the signed content (modified after signing)");
  }
  if (certificate && signer.signedAttributesDer && typeof signatureAlgorithm !== "string") {
    if (digestAlgorithm && signatureAlgorithm.digest !== digestAlgorithm) {
      problems.push(
        `signature hash ${signatureAlgorithm.digest} differs from the digest algorithm ${digestAlgorithm}`,
      );
    }
    const publicKey = x509Of(certificate).publicKey;
    report.signatureValid = verifyData(
      publicKey,
      signatureAlgorithm,
      signer.signedAttributesDer,
      signer.signature,
    );
    if (!report.signatureValid) problems.push("the signature does not verify with the signer certificate");
  }
  if (certificate) {
    report.signerCertificate = certificate;
    report.signer = summarizeCertificate(x509Of(certificate));
    report.signingCertificate = checkSigningCertificate(signer, certificate);
    if (report.signingCertificate === "mismatch")
      problems.push("signing-certificate attribute names another certificate");
    report.chain = buildChain(certificate, cms.certificates, trustRoots, validationTime);
    report.trusted = report.chain.trusted;
  }
  report.valid =
    problems.length === 0 &&
    report.messageDigestMatches &&
    report.signatureValid &&
    report.signingCertificate !== "mismatch";
  return report;
}

/**
 * Verifies an RFC 3161 TimeStampToken over `data` (the signature value for a signature
 * time-stamp, the byte range for a document time-stamp). The TSA chain is checked at genTime.
 */
export async function verifyTimestampToken(
  token: Uint8Array,
  digestData: ContentDigester,
  trustRoots: Uint8Array[],
): Promise<TimestampVerification> {
  const cms = parseCms(token);
  const tstInfoDer = cms.encapsulatedContent;
  if (cms.encapsulatedContentType !== OID.tstInfo || !tstInfoDer) {
    throw new EsignError("E_VERIFY", "time-stamp token does not carry a TSTInfo");
  }
  const tstInfo = parseTstInfo(tstInfoDer);
  const signer = await verifySigner(
    cms,
    async (algorithm) => hash(algorithm, tstInfoDer),
    trustRoots,
    tstInfo.genTime,
  );
  const imprintMatches =
    tstInfo.imprintAlgorithm !== undefined &&
    bytesEqual(tstInfo.hashedMessage, await digestData(tstInfo.imprintAlgorithm));
  if (!imprintMatches) signer.problems.push("time-stamp imprint does not match the time-stamped data");
  return {
    ...signer,
    valid: signer.valid && imprintMatches,
    genTime: tstInfo.genTime.toISOString(),
    policy: tstInfo.policy,
    imprintMatches,
  };
}

function hasBaselineAttributes(types: string[]): boolean {
  const required = [OID.contentType, OID.messageDigest, OID.signingCertificateV2];
  return required.every((type) => types.includes(type)) && !types.includes(OID.signingTime);
}

/** Verifies a detached CMS signature (PAdES/CAdES) and its signature time-stamp, if any. */
export async function verifyCms(cms: Uint8Array, options: VerifyCmsOptions): Promise<CmsVerification> {
  return verifyParsedCms(parseCms(cms), options);
}

/** `verifyCms` of a CMS the caller has parsed already (it looked at it first). */
export async function verifyParsedCms(
  parsed: ParsedCms,
  options: VerifyCmsOptions,
): Promise<CmsVerification> {
  const { content, trustRoots = [] } = options;
  const digestContent =
    options.digestContent ??
    (async (algorithm: DigestAlgorithm) => {
      if (!content) throw new TypeError("verifyCms needs content or digestContent");
      return hash(algorithm, content);
    });
  const signer = parsed.signerInfos[0];
  const tokens = signer
    ? (attributeValues(signer.unsignedAttributes, OID.signatureTimeStampToken) ?? [])
    : [];
  const signatureTimestamp = tokens[0]
    ? await verifyTimestampToken(
        tokens[0],
        async (algorithm) => hash(algorithm, signer!.signature),
        trustRoots,
      )
    : undefined;
  // A valid signature time-stamp proves the signature existed then: judge the certificates at that time.
  const validationTime =
    signatureTimestamp?.valid === true
      ? new Date(signatureTimestamp.genTime)
      : (options.validationTime ?? new Date());
  const report = await verifySigner(parsed, digestContent, trustRoots, validationTime);
  return {
    ...report,
    signatureTimestamp,
    padesBaselineAttributes: hasBaselineAttributes(report.signedAttributeTypes),
  };
}
