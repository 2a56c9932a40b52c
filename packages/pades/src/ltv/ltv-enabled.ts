import { X509Certificate } from "node:crypto";
import { bytesEqual } from "../pki/certificate";
import { isIssuedBy } from "../pki/chain";
import { hasOcspNoCheck, revocationUrls } from "../revocation/extensions";
import { parseOcspResponse } from "../revocation/ocsp";
import { revocationStatus } from "../revocation/policies";
import { subjectOf } from "../revocation/verdict";

/** A certificate on a validation path that a relying party could not check offline, and why. */
export interface LtvGap {
  certificate: string;
  missing: string;
}

export interface LtvCheck {
  /** Every certificate has revocation data in the /DSS or is exempt: Acrobat shows "LTV enabled". */
  ltvEnabled: boolean;
  gaps: LtvGap[];
}

/** What a /DSS holds, DER. */
export interface ValidationData {
  certs: Uint8Array[];
  ocsps: Uint8Array[];
  crls: Uint8Array[];
}

function isSelfSigned(certificate: Uint8Array): boolean {
  const parsed = new X509Certificate(certificate);
  return isIssuedBy(parsed, parsed);
}

/**
 * Whether a signature can be validated without the network, the way Acrobat decides "LTV
 * enabled": every certificate on every path (the signer's and the time-stamp authorities' chains
 * in `certificates`, and the delegated OCSP responders of the responses in the /DSS) is a trust
 * anchor, is marked ocsp-nocheck, or has an OCSP response or CRL in the /DSS that says it is good.
 * `at` is when it had to be good (the signature's time-stamp), as in validation.
 */
export function checkLtvEnabled(
  certificates: Uint8Array[],
  dss: ValidationData | undefined,
  trustRoots: Uint8Array[],
  options: { at?: Date; now?: Date } = {},
): LtvCheck {
  const data = dss ?? { certs: [], ocsps: [], crls: [] };
  const responders = data.ocsps.flatMap((ocsp) => {
    try {
      return parseOcspResponse(ocsp).basic?.certificates ?? [];
    } catch {
      return [];
    }
  });
  const pool = [...certificates, ...data.certs, ...responders, ...trustRoots];
  const pending = [...certificates, ...responders];
  const seen: Uint8Array[] = [];
  const gaps: LtvGap[] = [];
  while (pending.length > 0) {
    const certificate = pending.shift()!;
    if (seen.some((known) => bytesEqual(known, certificate))) continue;
    seen.push(certificate);
    if (trustRoots.some((root) => bytesEqual(root, certificate)) || isSelfSigned(certificate)) continue;
    if (hasOcspNoCheck(certificate)) continue;
    const parsed = new X509Certificate(certificate);
    const issuer = pool.find((candidate) => isIssuedBy(parsed, new X509Certificate(candidate)));
    if (!issuer) {
      gaps.push({ certificate: subjectOf(certificate), missing: "its issuer certificate" });
      continue;
    }
    pending.push(issuer);
    if (!dss) {
      gaps.push({
        certificate: subjectOf(certificate),
        missing: "revocation data: the document has no /DSS",
      });
      continue;
    }
    const status = revocationStatus(certificate, pool, data.ocsps, data.crls, options);
    if (status.status !== "good") {
      const why = status.status === "revoked" ? "it is revoked" : status.problems.join("; ");
      gaps.push({ certificate: subjectOf(certificate), missing: `revocation data showing it good (${why})` });
    }
  }
  return { ltvEnabled: gaps.length === 0, gaps };
}

/**
 * Before signing at B-LT: the certificates of `chain` (signer first) that name no OCSP responder
 * and no CRL distribution point, so no revocation data can be gathered and the result cannot be
 * LTV enabled. Trust anchors (self-signed) and ocsp-nocheck certificates need none.
 */
export function ltvReadinessGaps(chain: Uint8Array[]): LtvGap[] {
  return chain
    .filter((certificate) => !isSelfSigned(certificate) && !hasOcspNoCheck(certificate))
    .filter((certificate) => {
      const urls = revocationUrls(certificate);
      return urls.ocsp.length === 0 && urls.crl.length === 0;
    })
    .map((certificate) => ({
      certificate: subjectOf(certificate),
      missing: "an OCSP responder or CRL distribution point URL (B-LT cannot gather its revocation data)",
    }));
}
