import { X509Certificate } from "node:crypto";
import { OID } from "../asn1/oids";
import { bytesEqual, certificateFields } from "../pki/certificate";
import { isIssuedBy } from "../pki/chain";
import { signerUsageProblem } from "../pki/signer-certificate";
import { hasOcspNoCheck, revocationUrls } from "../revocation/extensions";
import { downloadCrl, downloadOcspResponse } from "../revocation/fetch";
import { certIdNames, parseOcspResponse } from "../revocation/ocsp";
import { revocationStatus } from "../revocation/policies";
import { subjectOf } from "../revocation/verdict";
import type { SignerVerification } from "./verify-cms";

/**
 * The rules a signature's certificates and algorithms must meet beyond integrity and trust, each
 * broken rule a finding with the ETSI EN 319 102-1 sub-indication it leads to.
 */
export type FindingSubIndication =
  | "REVOKED"
  | "REVOKED_NO_POE"
  | "TRY_LATER"
  | "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
  | "CHAIN_CONSTRAINTS_FAILURE"
  | "SIG_CONSTRAINTS_FAILURE";

export interface ValidationFinding {
  subIndication: FindingSubIndication;
  reason: string;
}

/** Revocation data to judge with: the /DSS's, and what `online` fetched (added as it is fetched). */
export interface RevocationEvidence {
  ocsps: Uint8Array[];
  crls: Uint8Array[];
}

export interface PathCheckOptions {
  trustRoots: Uint8Array[];
  /** Every certificate that may be an issuer: the CMS's, the tokens', the /DSS's. */
  pool: Uint8Array[];
  now: Date;
  graceMs: number;
  /** Ask the OCSP responders and CRL distribution points a certificate names when the evidence lacks its status. */
  online: boolean;
  timeoutMs?: number;
}

/** A certificate whose path must hold, and when. */
export interface PathToCheck {
  /** How messages name the path: "signer", "signature time-stamp", "document time-stamp". */
  role: string;
  certificate: Uint8Array;
  /** When every certificate on the path had to be good. */
  at: Date;
  /** A valid time-stamp proves the signature existed then: a later revocation does not count. */
  provenAt?: Date;
  /**
   * When the object says it was made (a token's genTime, the TSA's own word). Revoked after it
   * with nothing proving it: REVOKED_NO_POE (ETSI EN 319 102-1: the validator cannot ascertain
   * whether it was made before or after the revocation); revoked before it: REVOKED.
   */
  claimedAt?: Date;
}

const TIME_STAMPING = "1.3.6.1.5.5.7.3.8";
/** ETSI TS 119 312 and every current validator refuse these for signatures made today. */
const WEAK_ALGORITHMS = new Map([
  [OID.sha1, "SHA-1"],
  ["1.2.840.113549.2.5", "MD5"],
  ["1.2.840.113549.1.1.5", "SHA-1 with RSA"],
  ["1.2.840.113549.1.1.4", "MD5 with RSA"],
  ["1.2.840.10045.4.1", "ECDSA with SHA-1"],
]);
const MIN_RSA_BITS = 2048;

/**
 * The certificate, then its issuers from `pool` up to a trust root or a self-signed certificate
 * (as far as issuers are found; `buildChain` reports a broken chain).
 */
function issuerPath(certificate: Uint8Array, pool: Uint8Array[], trustRoots: Uint8Array[]): Uint8Array[] {
  const path = [certificate];
  for (let current = certificate; path.length <= 10; ) {
    const parsed = new X509Certificate(current);
    if (trustRoots.some((root) => bytesEqual(root, current)) || isIssuedBy(parsed, parsed)) break;
    const issuer = pool.find(
      (candidate) => !bytesEqual(candidate, current) && isIssuedBy(parsed, new X509Certificate(candidate)),
    );
    if (!issuer) break;
    path.push(issuer);
    current = issuer;
  }
  return path;
}

/** Adds what the certificate's own OCSP responders (or, failing them, CRL distribution points) say. */
async function fetchStatus(
  certificate: Uint8Array,
  issuer: Uint8Array,
  evidence: RevocationEvidence,
  options: PathCheckOptions,
): Promise<string[]> {
  const urls = revocationUrls(certificate);
  const failures: string[] = [];
  for (const url of urls.ocsp) {
    try {
      evidence.ocsps.push(await downloadOcspResponse(url, certificate, issuer, options));
      return failures;
    } catch (error) {
      failures.push(`--online: ${(error as Error).message}`);
    }
  }
  for (const url of urls.crl) {
    try {
      evidence.crls.push(await downloadCrl(url, options));
      return failures;
    } catch (error) {
      failures.push(`--online: ${(error as Error).message}`);
    }
  }
  return failures;
}

/** The delegated responders (certificates carried by OCSP responses) that answered about `certificate`. */
function respondersFor(certificate: Uint8Array, issuer: Uint8Array, ocsps: Uint8Array[]): Uint8Array[] {
  return ocsps.flatMap((ocsp) => {
    try {
      const basic = parseOcspResponse(ocsp).basic;
      const about = basic?.responses.some((entry) => certIdNames(entry.certId, certificate, issuer));
      return about ? basic!.certificates.filter((carried) => !bytesEqual(carried, issuer)) : [];
    } catch {
      return [];
    }
  });
}

/**
 * Every certificate on the paths (signer, intermediates, TSAs, and the delegated OCSP responders
 * that answered about them), except trust anchors and self-signed certificates: the algorithm
 * its issuer signed it with and the issuer's key size (SHA-1, MD5, RSA under 2048 bits refused),
 * and its revocation, judged at the time each had to be good, from the evidence first, then, with
 * `online`, from the network. Ocsp-nocheck responders need no status. A certificate that names
 * no OCSP responder and no CRL cannot be checked and is accepted (pyHanko's CHECK_IF_DECLARED);
 * one that names one but has no usable answer is TRY_LATER; a revoked one is REVOKED unless
 * `provenAt` precedes the revocation.
 */
export async function checkCertificatePaths(
  paths: PathToCheck[],
  evidence: RevocationEvidence,
  options: PathCheckOptions,
): Promise<{ findings: ValidationFinding[]; notes: string[] }> {
  const findings: ValidationFinding[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  const pending = [...paths];
  while (pending.length > 0) {
    const { role, certificate, at, provenAt, claimedAt } = pending.shift()!;
    const path = issuerPath(certificate, options.pool, options.trustRoots);
    for (const [index, der] of path.entries()) {
      const issuer = path[index + 1];
      const key = `${role}:${Buffer.from(der).toString("hex")}`;
      if (!issuer || seen.has(key)) continue;
      seen.add(key);
      const subject = subjectOf(der);
      const named = der === certificate ? `${role} certificate ${subject}` : `${role} path: ${subject}`;
      findings.push(...certificateCryptoFindings(der, issuer, named));
      if (hasOcspNoCheck(der)) continue;
      const rule = { at, now: options.now, graceMs: options.graceMs };
      let status = revocationStatus(der, [issuer], evidence.ocsps, evidence.crls, rule);
      if (status.source === undefined && options.online) {
        notes.push(...(await fetchStatus(der, issuer, evidence, options)));
        status = revocationStatus(der, [issuer], evidence.ocsps, evidence.crls, rule);
      }
      if (status.status === "revoked") {
        const revokedAt = status.revokedAt ? new Date(status.revokedAt) : undefined;
        if (!(provenAt && revokedAt && provenAt < revokedAt)) {
          const since = status.revokedAt ? ` since ${status.revokedAt}` : "";
          findings.push(
            claimedAt && revokedAt && claimedAt < revokedAt
              ? {
                  subIndication: "REVOKED_NO_POE",
                  reason: `${named} is revoked${since}; the token says ${claimedAt.toISOString()}, but no archive time-stamp proves it existed before the revocation`,
                }
              : { subIndication: "REVOKED", reason: `${named} is revoked${since}` },
          );
        }
      } else if (status.status === "unknown" && status.source !== undefined) {
        findings.push({
          subIndication: "TRY_LATER",
          reason: `${named}: its ${status.source} status is unknown`,
        });
      } else if (status.source === undefined) {
        const urls = revocationUrls(der);
        if (urls.ocsp.length > 0 || urls.crl.length > 0) {
          findings.push({
            subIndication: "TRY_LATER",
            reason: `${named}: no usable revocation data (${status.problems.join("; ")}); embed it (B-LT) or verify --online`,
          });
        }
      }
      for (const responder of respondersFor(der, issuer, evidence.ocsps)) {
        pending.push({ role: `OCSP responder for ${subject}`, certificate: responder, at });
      }
    }
  }
  return { findings, notes };
}

/** The key size of an RSA key below the minimum, else undefined. */
function shortRsaKey(certificate: Uint8Array): number | undefined {
  const key = new X509Certificate(certificate).publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  return key.asymmetricKeyType?.startsWith("rsa") && bits !== undefined && bits < MIN_RSA_BITS
    ? bits
    : undefined;
}

/**
 * A certificate's own signature: the algorithm `issuer` signed it with and the issuer's key size
 * (CRYPTO_CONSTRAINTS_FAILURE_NO_POE: nothing proves the certificate existed before forging it
 * became feasible).
 */
export function certificateCryptoFindings(
  certificate: Uint8Array,
  issuer: Uint8Array,
  named: string,
): ValidationFinding[] {
  const findings: ValidationFinding[] = [];
  const weak = WEAK_ALGORITHMS.get(certificateFields(certificate).signatureAlgorithmOid);
  if (weak) {
    findings.push({
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
      reason: `${named} is signed with ${weak}`,
    });
  }
  const bits = shortRsaKey(issuer);
  if (bits !== undefined) {
    findings.push({
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
      reason: `${named} is signed by ${subjectOf(issuer)}, whose key is RSA-${bits} (at least ${MIN_RSA_BITS} bits required)`,
    });
  }
  return findings;
}

/** SHA-1/MD5 digests or signatures and RSA keys under 2048 bits: CRYPTO_CONSTRAINTS_FAILURE_NO_POE. */
export function cryptoFindings(verification: SignerVerification, role: string): ValidationFinding[] {
  const findings: ValidationFinding[] = [];
  for (const algorithm of new Set([verification.digestAlgorithm, verification.signatureAlgorithm])) {
    const weak = WEAK_ALGORITHMS.get(algorithm);
    if (weak)
      findings.push({ subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", reason: `${role} uses ${weak}` });
  }
  const bits = verification.signerCertificate && shortRsaKey(verification.signerCertificate);
  if (bits) {
    findings.push({
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
      reason: `${role} key is RSA-${bits} (at least ${MIN_RSA_BITS} bits required)`,
    });
  }
  return findings;
}

/** The signer certificate's key usages allow signing documents (the rule signing applies). */
export function signerUsageFindings(verification: SignerVerification): ValidationFinding[] {
  const problem = verification.signerCertificate && signerUsageProblem(verification.signerCertificate);
  return problem ? [{ subIndication: "CHAIN_CONSTRAINTS_FAILURE", reason: problem }] : [];
}

/** RFC 3161 §2.3: a TSA certificate has the extended key usage id-kp-timeStamping. */
export function tsaUsageFindings(verification: SignerVerification, role: string): ValidationFinding[] {
  if (!verification.signerCertificate) return [];
  const usages = new X509Certificate(verification.signerCertificate).keyUsage;
  if (usages?.includes(TIME_STAMPING)) return [];
  return [
    {
      subIndication: "CHAIN_CONSTRAINTS_FAILURE",
      reason: `${role} certificate ${verification.signer?.subject ?? "?"} lacks the extended key usage id-kp-timeStamping`,
    },
  ];
}

/** How long before its time-stamp a signature may claim to be made before we say so (a slow approval is normal). */
export const SIGNING_TIME_LEAD_MS = 24 * 60 * 60 * 1000;

/**
 * /M against the signature time-stamp: a signature cannot be made after the time-stamp over its
 * value (beyond the clock grace), so a later /M is SIG_CONSTRAINTS_FAILURE; an /M more than a day
 * before it is only noted.
 */
export function signingTimeFindings(
  claimed: Date | undefined,
  genTime: Date | undefined,
  graceMs: number,
): { findings: ValidationFinding[]; notes: string[] } {
  if (!claimed || !genTime) return { findings: [], notes: [] };
  if (claimed.getTime() > genTime.getTime() + graceMs) {
    return {
      findings: [
        {
          subIndication: "SIG_CONSTRAINTS_FAILURE",
          reason: `the claimed signing time /M ${claimed.toISOString()} is after the signature time-stamp ${genTime.toISOString()}`,
        },
      ],
      notes: [],
    };
  }
  if (genTime.getTime() - claimed.getTime() > SIGNING_TIME_LEAD_MS) {
    return {
      findings: [],
      notes: [
        `the claimed signing time /M ${claimed.toISOString()} is more than a day before the signature time-stamp ${genTime.toISOString()}`,
      ],
    };
  }
  return { findings: [], notes: [] };
}
