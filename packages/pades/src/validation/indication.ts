import type { FindingSubIndication } from "./path-checks";
import type { PdfSignatureReport } from "./verify-pdf";

/** ETSI EN 319 102-1 main indications, spelt as the JSON report shows them. */
export type Indication = "TOTAL-PASSED" | "TOTAL-FAILED" | "INDETERMINATE";

/** ETSI EN 319 102-1 sub-indications this validator gives (as in the XML report). */
export type SubIndication =
  | "FORMAT_FAILURE"
  | "HASH_FAILURE"
  | "SIG_CRYPTO_FAILURE"
  | "NO_CERTIFICATE_CHAIN_FOUND"
  | FindingSubIndication;

export interface IndicationResult {
  indication: Indication;
  /** null with TOTAL-PASSED (kept in the JSON, where undefined would vanish). */
  subIndication: SubIndication | null;
}

/**
 * The verdict a relying party acts on. A refused algorithm is INDETERMINATE before anything is
 * checked with it; integrity failures and changes the signer did not allow are TOTAL-FAILED; a
 * revoked certificate on any path fails the signature (`findings` only hold revocations that no
 * valid time-stamp precedes); a chain that does not reach a trust anchor (or was not checked) is
 * INDETERMINATE, and so is a broken key-usage, signing-time or revocation-data rule.
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
  const finding = (subIndication: FindingSubIndication) =>
    report.findings.some((found) => found.subIndication === subIndication);
  if (!report.byteRangeValid) return failed("FORMAT_FAILURE");
  const checked = report.cms ?? report.documentTimestamp;
  if (!checked) return failed("FORMAT_FAILURE");
  if (finding("CRYPTO_CONSTRAINTS_FAILURE_NO_POE")) return indeterminate("CRYPTO_CONSTRAINTS_FAILURE_NO_POE");
  if (!checked.messageDigestMatches) return failed("HASH_FAILURE");
  if (report.documentTimestamp && !report.documentTimestamp.imprintMatches) return failed("HASH_FAILURE");
  if (!checked.valid) return failed("SIG_CRYPTO_FAILURE");
  if (report.modifications === "disallowed") return failed("FORMAT_FAILURE");
  if (finding("REVOKED")) return failed("REVOKED");
  if (!chainChecked || !checked.trusted) return indeterminate("NO_CERTIFICATE_CHAIN_FOUND");
  const constraint = report.findings[0];
  if (constraint) return indeterminate(constraint.subIndication);
  return { indication: "TOTAL-PASSED", subIndication: null };
}
