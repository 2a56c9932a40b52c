import type { PdfSignatureReport, PdfVerificationReport } from "./verify-pdf";

/** ETSI TS 119 102-2 v1.4.1, the namespace of its XML schema. */
const VR_NAMESPACE = "http://uri.etsi.org/19102/v1.4.1#";
const MAIN_INDICATION = "urn:etsi:019102:mainindication:";
const SUB_INDICATION = "urn:etsi:019102:subindication:";
/** Our own report data types (TS 119 102-2 leaves ReportData types to the validator). */
const REPORT_DATA = "urn:esign-agent:validation:";

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"]/g,
    (char) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[char] ?? char,
  );
}

function element(name: string, content: string, attributes = ""): string {
  return `<vr:${name}${attributes}>${content}</vr:${name}>`;
}

function reportData(type: string, value: string): string {
  return element("ReportData", element("Type", `${REPORT_DATA}${type}`) + element("Value", escapeXml(value)));
}

function signatureAttributes(signature: PdfSignatureReport): string {
  const parts: string[] = [];
  const signingTime = signature.claimedSigningTime ? new Date(signature.claimedSigningTime) : undefined;
  if (signingTime && !Number.isNaN(signingTime.getTime())) {
    parts.push(element("SigningTime", element("Time", signingTime.toISOString())));
  }
  if (signature.subFilter) {
    parts.push(element("SubFilter", element("SubFilterElement", escapeXml(signature.subFilter))));
  }
  if (signature.reason) parts.push(element("Reason", element("ReasonElement", escapeXml(signature.reason))));
  return parts.length > 0 ? element("SignatureAttributes", parts.join("")) : "";
}

function signatureReport(signature: PdfSignatureReport, index: number): string {
  const identifier = element(
    "SignatureIdentifier",
    element("HashOnly", "false") +
      element("DocHashOnly", "false") +
      element("DAIdentifier", escapeXml(signature.fieldName)),
    ` id="S-${index + 1}"`,
  );
  const data = [
    reportData("type", signature.type),
    // SignerInformation would need the certificate as a validation object; the name is enough here.
    ...(signature.signer ? [reportData("signer", signature.signer)] : []),
    reportData("modifications", signature.modifications),
    ...signature.changes.map((change) =>
      reportData(
        change.allowed ? "allowed-change" : "disallowed-change",
        `object ${change.object} (${change.kind}): ${change.why}`,
      ),
    ),
    reportData("ltv-enabled", String(signature.ltvEnabled)),
    ...signature.ltvGaps.map((gap) => reportData("ltv-gap", `${gap.certificate} lacks ${gap.missing}`)),
    ...(signature.level ? [reportData("pades-level", signature.level)] : []),
    ...signature.problems.map((problem) => reportData("problem", problem)),
  ];
  const status = element(
    "SignatureValidationStatus",
    element("MainIndication", `${MAIN_INDICATION}${signature.indication.toLowerCase()}`) +
      (signature.subIndication
        ? element("SubIndication", `${SUB_INDICATION}${signature.subIndication}`)
        : "") +
      element("AssociatedValidationReportData", element("AdditionalValidationReportData", data.join(""))),
  );
  return element("SignatureValidationReport", identifier + signatureAttributes(signature) + status);
}

/**
 * The ETSI TS 119 102-2 XML validation report of a verification report: one
 * SignatureValidationReport per signature with its main and sub-indication (URIs of TS 119 102-2)
 * and, as additional report data, the change analysis, LTV status and problems. Served by
 * `esign verify --report etsi` and `POST /v1/verify?report=etsi`.
 */
export function etsiValidationReportXml(report: PdfVerificationReport): string {
  const signatures = report.signatures.map(signatureReport).join("\n  ");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<vr:ValidationReport xmlns:vr="${VR_NAMESPACE}">\n  ${signatures}\n</vr:ValidationReport>\n`;
}
