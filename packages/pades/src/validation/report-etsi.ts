import { createHash } from "node:crypto";
import type { PdfSignatureReport, PdfVerificationReport } from "./verify-pdf";

/** ETSI TS 119 102-2 v1.4.1, the namespace of its XML schema. */
const VR_NAMESPACE = "http://uri.etsi.org/19102/v1.4.1#";
const MAIN_INDICATION = "urn:etsi:019102:mainindication:";
const SUB_INDICATION = "urn:etsi:019102:subindication:";
/** Our own report data types (TS 119 102-2 leaves ReportData types to the validator). */
const REPORT_DATA = "urn:esign-agent:validation:";
const CERTIFICATE_OBJECT = "urn:etsi:019102:validationObject:certificate";

/** The certificates the report refers to, each once, as TS 119 102-2 validation objects. */
class ValidationObjects {
  private readonly objects = new Map<string, Uint8Array>();

  /** The id of `certificate`'s validation object (an XML ID: a letter first). */
  certificate(certificate: Uint8Array): string {
    const id = `C-${createHash("sha256").update(certificate).digest("hex").slice(0, 16)}`;
    this.objects.set(id, certificate);
    return id;
  }

  xml(): string {
    if (this.objects.size === 0) return "";
    const objects = [...this.objects].map(([id, der]) =>
      element(
        "ValidationObject",
        element("ObjectType", CERTIFICATE_OBJECT) +
          element("ValidationObjectRepresentation", element("base64", Buffer.from(der).toString("base64"))),
        ` id="${id}"`,
      ),
    );
    return element("SignatureValidationObjects", objects.join(""));
  }
}

function reference(name: string, id: string): string {
  return element(name, "", ` VOReference="${id}"`);
}

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

function signatureReport(signature: PdfSignatureReport, index: number, objects: ValidationObjects): string {
  const identifier = element(
    "SignatureIdentifier",
    element("HashOnly", "false") +
      element("DocHashOnly", "false") +
      element("DAIdentifier", escapeXml(signature.fieldName)),
    ` id="S-${index + 1}"`,
  );
  const certificate = (signature.cms ?? signature.documentTimestamp)?.signerCertificate;
  const certificateId = certificate ? objects.certificate(certificate) : undefined;
  const signerInformation = certificateId
    ? element(
        "SignerInformation",
        reference("SignerCertificate", certificateId) +
          (signature.signer ? element("Signer", escapeXml(signature.signer)) : ""),
      )
    : "";
  const data = [
    reportData("type", signature.type),
    reportData("modifications", signature.modifications),
    ...signature.changes.map((change) =>
      reportData(
        change.allowed ? "allowed-change" : "disallowed-change",
        `object ${change.object} (${change.kind}): ${change.why}`,
      ),
    ),
    ...signature.findings.map((finding) =>
      reportData("finding", `${finding.subIndication}: ${finding.reason}`),
    ),
    reportData("ltv-enabled", String(signature.ltvEnabled)),
    ...signature.ltvGaps.map((gap) => reportData("ltv-gap", `${gap.certificate} lacks ${gap.missing}`)),
    ...(signature.level ? [reportData("pades-level", signature.level)] : []),
    ...signature.problems.map((problem) => reportData("problem", problem)),
  ];
  const chain = certificateId
    ? element("CertificateChain", reference("SigningCertificate", certificateId))
    : "";
  const status = element(
    "SignatureValidationStatus",
    element("MainIndication", `${MAIN_INDICATION}${signature.indication.toLowerCase()}`) +
      (signature.subIndication
        ? element("SubIndication", `${SUB_INDICATION}${signature.subIndication}`)
        : "") +
      element(
        "AssociatedValidationReportData",
        chain + element("AdditionalValidationReportData", data.join("")),
      ),
  );
  return element(
    "SignatureValidationReport",
    identifier + signatureAttributes(signature) + signerInformation + status,
  );
}

/**
 * The ETSI TS 119 102-2 XML validation report of a verification report: one
 * SignatureValidationReport per signature with its signer (SignerInformation) and main and
 * sub-indication (URIs of TS 119 102-2); the status's AssociatedValidationReportData holds the
 * certificate chain (the signer certificate, a validation object in SignatureValidationObjects)
 * and, as additional report data, the change analysis (each change and why), the findings behind
 * the sub-indication, the LTV status with each gap, and problems. Served by
 * `esign verify --report etsi` and `POST /v1/verify?report=etsi`.
 */
export function etsiValidationReportXml(report: PdfVerificationReport): string {
  const objects = new ValidationObjects();
  const signatures = report.signatures
    .map((signature, index) => signatureReport(signature, index, objects))
    .join("\n  ");
  const validationObjects = objects.xml();
  return `<?xml version="1.0" encoding="UTF-8"?>\n<vr:ValidationReport xmlns:vr="${VR_NAMESPACE}">\n  ${signatures}\n${validationObjects ? `  ${validationObjects}\n` : ""}</vr:ValidationReport>\n`;
}
