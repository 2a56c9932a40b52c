import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import { isIssuedBy } from "../pki/chain";
import { DEFAULT_REVOCATION_GRACE_MS, type FreshnessRule } from "./freshness";
import type { CertificateStatus } from "./ocsp";
import { judgeCrl, judgeOcspResponse, type RevocationVerdict, subjectOf } from "./verdict";

/**
 * Two policies over the same verdicts. "Must be good now" (`checkOcspResponse`, `checkCrl`) is for
 * signing and B-LT gathering: anything that does not prove the certificate good throws.
 * "Report" (`revocationStatus`) is for validation: it says what the data shows, and why the
 * answers it set aside did not count.
 */
export interface RevocationOptions {
  /** Per request when fetching. Default 10 s. */
  timeoutMs?: number;
  /** When the status must hold; default now. */
  now?: Date;
  /** Clock drift allowed on thisUpdate/nextUpdate. Default 5 minutes. */
  graceMs?: number;
}

export interface OcspResult {
  /** The OCSPResponse as received, DER, for the /DSS. */
  response: Uint8Array;
  /** Certificates the response carries (a delegated responder's), DER. */
  certificates: Uint8Array[];
}

function signingRule(options: RevocationOptions): FreshnessRule {
  const now = options.now ?? new Date();
  return { at: now, now, graceMs: options.graceMs ?? DEFAULT_REVOCATION_GRACE_MS };
}

/** Throws E_REVOCATION unless the verdict proves `certificate` good (permanent when it is revoked). */
function requireGood(verdict: RevocationVerdict, certificate: Uint8Array, source: string): void {
  if (verdict.problem) throw new EsignError("E_REVOCATION", `${source}: ${verdict.problem}`);
  if (verdict.status === "revoked") {
    const since = verdict.revokedAt ? ` since ${verdict.revokedAt.toISOString()}` : "";
    throw new EsignError("E_REVOCATION", `${subjectOf(certificate)} is revoked${since} (${source})`, {
      permanent: true,
    });
  }
  if (verdict.status !== "good") {
    throw new EsignError("E_REVOCATION", `${source}: status of ${subjectOf(certificate)} is unknown`);
  }
}

/**
 * Must be good now: an OCSPResponse (fetched, or handed over by a signing service) that is
 * successful, signed by the certificate's issuer or its delegated responder, current, and "good"
 * for `certificate`. Throws E_REVOCATION otherwise (permanent when the certificate is revoked).
 */
export function checkOcspResponse(
  response: Uint8Array,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
  source = "OCSP response",
): OcspResult {
  const verdict = judgeOcspResponse(response, certificate, issuer, signingRule(options));
  requireGood(verdict, certificate, source);
  return { response, certificates: verdict.certificates };
}

/** Must be good now: a CRL of `issuer`, signed by it, current, not listing `certificate`. Returns it. */
export function checkCrl(
  der: Uint8Array,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
  source = "CRL",
): Uint8Array {
  requireGood(judgeCrl(der, certificate, issuer, signingRule(options)), certificate, source);
  return der;
}

export interface RevocationStatus {
  status: CertificateStatus;
  /** The kind of answer the status comes from; undefined when no answer counted. */
  source: "ocsp" | "crl" | undefined;
  /** ISO time of the revocation, when revoked and the answer says when. */
  revokedAt: string | undefined;
  /** Why answers about the certificate were set aside (or that there were none). */
  problems: string[];
}

export interface RevocationReportOptions {
  /** When the certificate must have been good: the signature's time. Default now. */
  at?: Date;
  /** The validation time. Default now. */
  now?: Date;
  /** Default 5 minutes. */
  graceMs?: number;
}

/**
 * Report: what the collected OCSP responses and CRLs (a /DSS) say about `certificate`, whose
 * issuer must be in `pool`. Answers about other certificates are skipped; answers about it that
 * do not count are listed in `problems`. A counted "revoked" outweighs any "good"; OCSP is
 * preferred over CRLs when both say good.
 */
export function revocationStatus(
  certificate: Uint8Array,
  pool: Uint8Array[],
  ocsps: Uint8Array[],
  crls: Uint8Array[],
  options: RevocationReportOptions = {},
): RevocationStatus {
  const now = options.now ?? new Date();
  const rule = { at: options.at ?? now, now, graceMs: options.graceMs ?? DEFAULT_REVOCATION_GRACE_MS };
  const subject = new X509Certificate(certificate);
  const issuer = pool.find((candidate) => isIssuedBy(subject, new X509Certificate(candidate)));
  const report: RevocationStatus = {
    status: "unknown",
    source: undefined,
    revokedAt: undefined,
    problems: [],
  };
  if (!issuer) {
    report.problems.push(`the issuer of ${subjectOf(certificate)} is not among the certificates`);
    return report;
  }
  const answers = [
    ...ocsps.map((ocsp) => ({
      source: "ocsp" as const,
      verdict: judgeOcspResponse(ocsp, certificate, issuer, rule),
    })),
    ...crls.map((crl) => ({ source: "crl" as const, verdict: judgeCrl(crl, certificate, issuer, rule) })),
  ].filter((answer) => answer.verdict.aboutCertificate);
  for (const { source, verdict } of answers) {
    if (verdict.problem)
      report.problems.push(`${source === "ocsp" ? "OCSP response" : "CRL"}: ${verdict.problem}`);
  }
  const counted = answers.filter((answer) => answer.verdict.status !== undefined);
  const decisive =
    counted.find((answer) => answer.verdict.status === "revoked") ??
    counted.find((answer) => answer.verdict.status === "good") ??
    counted[0];
  if (decisive) {
    report.status = decisive.verdict.status!;
    report.source = decisive.source;
    report.revokedAt = decisive.verdict.revokedAt?.toISOString();
  } else if (answers.length === 0) {
    report.problems.push(`no OCSP response or CRL names ${subjectOf(certificate)}`);
  }
  return report;
}
