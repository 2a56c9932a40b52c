import { X509Certificate } from "node:crypto";
import { bytesEqual, certificateFields } from "../pki/certificate";
import { distinguishedName } from "../pki/chain";
import { parseCrl } from "./crl";
import { type FreshnessRule, freshnessProblem } from "./freshness";
import { authorisedResponder, type CertificateStatus, certIdNames, parseOcspResponse } from "./ocsp";
import { isSignedBy } from "./signature";

/** What one OCSP response or CRL proves about one certificate. Both policies start from it. */
export interface RevocationVerdict {
  /** The answer is about the certificate: a SingleResponse's CertID names it, or it is its issuer's CRL. */
  aboutCertificate: boolean;
  /** Why the answer proves nothing; undefined when it counts. */
  problem: string | undefined;
  /** What a counted answer says. */
  status: CertificateStatus | undefined;
  revokedAt: Date | undefined;
  /** Certificates an OCSP response carries (a delegated responder's), DER. */
  certificates: Uint8Array[];
}

export function subjectOf(certificate: Uint8Array): string {
  return distinguishedName(new X509Certificate(certificate).subject);
}

function unusable(
  problem: string,
  aboutCertificate: boolean,
  certificates: Uint8Array[] = [],
): RevocationVerdict {
  return { aboutCertificate, problem, status: undefined, revokedAt: undefined, certificates };
}

/** The parsed answer, or the verdict on one that does not parse (it names no certificate). */
function parsedOrVerdict<T extends object>(
  parse: (der: Uint8Array) => T,
  der: Uint8Array,
): T | RevocationVerdict {
  try {
    return parse(der);
  } catch (error) {
    return unusable((error as Error).message, false);
  }
}

/**
 * Judges an OCSPResponse about `certificate`, issued by `issuer`: successful, signed by the CA or
 * its authorised responder (with any algorithm a signature may use), naming the certificate by
 * its CertID, and fresh by the one rule.
 */
export function judgeOcspResponse(
  response: Uint8Array,
  certificate: Uint8Array,
  issuer: Uint8Array,
  rule: FreshnessRule,
): RevocationVerdict {
  const parsed = parsedOrVerdict(parseOcspResponse, response);
  if ("problem" in parsed) return parsed;
  const { basic } = parsed;
  if (!basic) return unusable(`response status ${parsed.responseStatus}`, false);
  const single = basic.responses.find((entry) => certIdNames(entry.certId, certificate, issuer));
  const about = single !== undefined;
  if (typeof basic.signed.algorithm === "string") return unusable(basic.signed.algorithm, about);
  if (!authorisedResponder(basic, issuer)) {
    return unusable("the response is not signed by the CA or its delegated responder", about);
  }
  if (!single) return unusable(`the response is not about ${subjectOf(certificate)}`, false);
  const stale = freshnessProblem(single.thisUpdate, single.nextUpdate, rule);
  if (stale) return unusable(`the response is ${stale}`, true, basic.certificates);
  return {
    aboutCertificate: true,
    problem: undefined,
    status: single.status,
    revokedAt: single.revokedAt,
    certificates: basic.certificates,
  };
}

/** Judges a CRL for `certificate`: its issuer's list, signed with the issuer's key, fresh by the one rule. */
export function judgeCrl(
  crl: Uint8Array,
  certificate: Uint8Array,
  issuer: Uint8Array,
  rule: FreshnessRule,
): RevocationVerdict {
  const parsed = parsedOrVerdict(parseCrl, crl);
  if ("problem" in parsed) return parsed;
  const { issuer: issuerName, serialNumber } = certificateFields(certificate);
  if (!bytesEqual(parsed.issuer, issuerName)) {
    return unusable(`not the CRL of the issuer of ${subjectOf(certificate)}`, false);
  }
  if (typeof parsed.signed.algorithm === "string") return unusable(parsed.signed.algorithm, true);
  if (!isSignedBy(parsed.signed, new X509Certificate(issuer).publicKey)) {
    return unusable("not signed by the certificate's issuer", true);
  }
  const stale = freshnessProblem(parsed.thisUpdate, parsed.nextUpdate, rule);
  if (stale) return unusable(stale, true);
  const entry = parsed.revoked.find((revoked) => bytesEqual(revoked.serialNumber, serialNumber));
  return {
    aboutCertificate: true,
    problem: undefined,
    status: entry ? "revoked" : "good",
    revokedAt: entry?.revokedAt,
    certificates: [],
  };
}
