import type { PdfSignatureReport } from "./verify-pdf";

/** ETSI EN 319 102-1 main indications, spelt as the JSON report shows them. */
export type Indication = "TOTAL-PASSED" | "TOTAL-FAILED" | "INDETERMINATE";

/** ETSI EN 319 102-1 sub-indications this validator gives (as in the XML report). */
export type SubIndication =
  | "FORMAT_FAILURE"
  | "HASH_FAILURE"
  | "SIG_CRYPTO_FAILURE"
  | "REVOKED"
  | "NO_CERTIFICATE_CHAIN_FOUND";

export interface IndicationResult {
  indication: Indication;
  /** null with TOTAL-PASSED (kept in the JSON, where undefined would vanish). */
  subIndication: SubIndication | null;
}

/**
 * The verdict a relying party acts on. Integrity failures and changes the signer did not allow are
 * TOTAL-FAILED; a chain that does not reach a trust anchor (or was not checked) is INDETERMINATE;
 * a revoked certificate fails the signature unless a valid signature time-stamp proves it existed
 * before the revocation.
 */
export function indicationOf(report: PdfSignatureReport, chainChecked: boolean): IndicationResult {
  const failed = (subIndication: SubIndication): IndicationResult => ({
    indication: "TOTAL-FAILED",
    subIndication,
  });
  const indeterminate = (subIndication: SubIndication): IndicationResult => ({
    indication: "INDETERMINATE",
    subIndication,
  });
  if (!report.byteRangeValid) return failed("FORMAT_FAILURE");
  const checked = report.cms ?? report.documentTimestamp;
  if (!checked) return failed("FORMAT_FAILURE");
  if (!checked.messageDigestMatches) return failed("HASH_FAILURE");
  if (report.documentTimestamp && !report.documentTimestamp.imprintMatches) return failed("HASH_FAILURE");
  if (!checked.valid) return failed("SIG_CRYPTO_FAILURE");
  if (report.modifications === "disallowed") return failed("FORMAT_FAILURE");
  if (report.revocation?.status === "revoked") {
    const stamp = report.cms?.signatureTimestamp;
    const revokedAt = report.revocation.revokedAt ? new Date(report.revocation.revokedAt) : undefined;
    const provenBefore = stamp?.valid && revokedAt !== undefined && new Date(stamp.genTime) < revokedAt;
    return provenBefore ? { indication: "TOTAL-PASSED", subIndication: null } : failed("REVOKED");
  }
  if (!chainChecked || !checked.trusted) return indeterminate("NO_CERTIFICATE_CHAIN_FOUND");
  return { indication: "TOTAL-PASSED", subIndication: null };
}
