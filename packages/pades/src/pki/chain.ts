import type { X509Certificate } from "node:crypto";
import { bytesEqual, x509Of } from "./certificate";

export interface CertificateSummary {
  subject: string;
  issuer: string;
  /** Upper-case hex. */
  serialNumber: string;
  notBefore: string;
  notAfter: string;
}

export interface ChainReport {
  /** A path from the certificate to one of the trust roots exists, every link valid at the time. */
  trusted: boolean;
  /** From the end-entity certificate up to the trust root (or as far as issuers were found). */
  path: CertificateSummary[];
  problems: string[];
}

const MAX_PATH_LENGTH = 10;

/** node:crypto's multi-line DN as one line, the way our messages and reports show names. */
export function distinguishedName(multiline: string): string {
  return multiline.split("\n").filter(Boolean).join(", ");
}

/**
 * Answers of `isIssuedBy` per (certificate, issuer) object pair. An X509Certificate cannot change,
 * so neither can the answer; `x509Of` hands out the same objects for the same bytes, so a
 * signer's chain is verified once, not on every signature.
 */
const issuedBy = new WeakMap<X509Certificate, WeakMap<X509Certificate, boolean>>();

/** `issuer` issued `certificate`: names match and its key verifies the certificate's signature. */
export function isIssuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  let answers = issuedBy.get(certificate);
  if (!answers) {
    answers = new WeakMap();
    issuedBy.set(certificate, answers);
  }
  let answer = answers.get(issuer);
  if (answer === undefined) {
    answer = certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
    answers.set(issuer, answer);
  }
  return answer;
}

/** Per certificate object (immutable): the summary and the validity period as dates. */
const described = new WeakMap<X509Certificate, { summary: CertificateSummary; from: Date; to: Date }>();

function describe(certificate: X509Certificate) {
  let description = described.get(certificate);
  if (!description) {
    const from = new Date(certificate.validFrom);
    const to = new Date(certificate.validTo);
    const summary = {
      subject: distinguishedName(certificate.subject),
      issuer: distinguishedName(certificate.issuer),
      serialNumber: certificate.serialNumber.toUpperCase(),
      notBefore: from.toISOString(),
      notAfter: to.toISOString(),
    };
    description = { summary, from, to };
    described.set(certificate, description);
  }
  return description;
}

export function summarizeCertificate(certificate: X509Certificate): CertificateSummary {
  return { ...describe(certificate).summary }; // a copy: reports are the caller's to change
}

function validityProblem(certificate: X509Certificate, at: Date): string | undefined {
  const { from, to } = describe(certificate);
  if (at < from || at > to) {
    return `${distinguishedName(certificate.subject)} is not valid at ${at.toISOString()} (valid ${from.toISOString()} to ${to.toISOString()})`;
  }
  return undefined;
}

/**
 * Builds a path from `certificate` to one of `trustRoots` using `pool` (e.g. the CMS's
 * certificates) for intermediates: issuer name/key identifiers, the issuer's signature, CA
 * flag, and validity at `at` for every certificate. Revocation is not checked here.
 */
export function buildChain(
  certificate: Uint8Array,
  pool: Uint8Array[],
  trustRoots: Uint8Array[],
  at: Date,
): ChainReport {
  const roots = trustRoots.map(x509Of);
  const candidates = [...roots, ...pool.map(x509Of)];
  const problems: string[] = [];
  let current = x509Of(certificate);
  const path = [current];
  const isRoot = (cert: X509Certificate) => roots.some((root) => bytesEqual(root.raw, cert.raw));

  while (!isRoot(current)) {
    if (path.length > MAX_PATH_LENGTH) {
      problems.push(`no trust root within ${MAX_PATH_LENGTH} certificates`);
      break;
    }
    if (isIssuedBy(current, current)) {
      problems.push(
        `${distinguishedName(current.subject)} is a self-signed root that is not among the trust roots`,
      );
      break;
    }
    const issuer = candidates.find(
      (candidate) => !bytesEqual(candidate.raw, current.raw) && isIssuedBy(current, candidate),
    );
    if (!issuer) {
      problems.push(
        `no issuer found for ${distinguishedName(current.subject)} (issued by ${distinguishedName(current.issuer)})`,
      );
      break;
    }
    if (!issuer.ca) problems.push(`${distinguishedName(issuer.subject)} issues certificates but is not a CA`);
    path.push(issuer);
    current = issuer;
  }
  for (const cert of path) {
    const problem = validityProblem(cert, at);
    if (problem) problems.push(problem);
  }
  return {
    trusted: problems.length === 0 && isRoot(current),
    path: path.map(summarizeCertificate),
    problems,
  };
}
