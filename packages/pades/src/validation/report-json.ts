import type { PdfVerificationReport } from "./verify-pdf";

/**
 * Whether a file passes verification: every signature's indication is TOTAL-PASSED (intact, only
 * changes its signer allowed, chained to a trust root). A file without signatures fails.
 */
export function verificationPasses(report: PdfVerificationReport): boolean {
  return (
    report.signatures.length > 0 &&
    report.signatures.every((signature) => signature.indication === "TOTAL-PASSED")
  );
}

/**
 * The JSON form of a verification report, the same bytes wherever it is produced (`esign verify
 * --json`, `POST /v1/verify`): the verdict first, then the report; certificates and other bytes
 * as base64 (the body of a PEM); two-space indentation and a final newline.
 */
export function verificationReportJson(report: PdfVerificationReport, chainChecked: boolean): string {
  const document = { ok: verificationPasses(report), chainChecked, ...report };
  return `${JSON.stringify(document, bytesAsBase64, 2)}\n`;
}

function bytesAsBase64(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value;
}
