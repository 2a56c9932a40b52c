import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import * as x509 from "@peculiar/x509";

/**
 * Extended key usages Acrobat accepts on a signer certificate (when the extension is present),
 * plus the two document-signing purposes newer validators know.
 */
const SIGNING_EKUS = new Set([
  "2.5.29.37.0", // anyExtendedKeyUsage
  "1.3.6.1.5.5.7.3.4", // emailProtection
  "1.3.6.1.5.5.7.3.3", // codeSigning
  "1.2.840.113583.1.1.5", // Adobe Authentic Documents Trust
  "1.3.6.1.5.5.7.3.36", // documentSigning (RFC 9336)
  "1.3.6.1.4.1.311.10.3.12", // Microsoft document signing
]);

interface UsableCertificate {
  subject: string;
  validFrom: Date;
  validTo: Date;
}

/** Key usages are checked once per certificate object; only the validity period depends on the time. */
const checkedCertificates = new WeakMap<Uint8Array, UsableCertificate>();

/**
 * Why the key usages of `certificate` forbid signing documents, or undefined when they allow it:
 * a key usage without digitalSignature/nonRepudiation, or an extended key usage with no signing
 * purpose. The one rule for signing (refused before) and validation (CHAIN_CONSTRAINTS_FAILURE).
 */
export function signerUsageProblem(certificate: Uint8Array): string | undefined {
  const node = new X509Certificate(certificate);
  const subject = node.subject.split("\n").join(", ");
  const keyUsage = new x509.X509Certificate(certificate).getExtension(x509.KeyUsagesExtension);
  const signing = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
  if (keyUsage && (keyUsage.usages & signing) === 0) {
    return `signer certificate ${subject} has neither digitalSignature nor nonRepudiation key usage`;
  }
  const extendedKeyUsage = node.keyUsage;
  if (extendedKeyUsage && !extendedKeyUsage.some((oid) => SIGNING_EKUS.has(oid))) {
    return `signer certificate ${subject} has extended key usages (${extendedKeyUsage.join(", ")}) without a document-signing purpose`;
  }
  return undefined;
}

function checkUsages(certificate: Uint8Array): UsableCertificate {
  const problem = signerUsageProblem(certificate);
  if (problem) throw new EsignError("E_CERT", problem);
  const node = new X509Certificate(certificate);
  const subject = node.subject.split("\n").join(", ");
  return { subject, validFrom: new Date(node.validFrom), validTo: new Date(node.validTo) };
}

/**
 * Refuses (E_CERT) a certificate that cannot make a signature validators accept: outside its
 * validity period at `at`, a key usage without digitalSignature/nonRepudiation, or an extended
 * key usage with no signing purpose. Catching it before signing beats a PDF that fails later.
 */
export function assertUsableSignerCertificate(certificate: Uint8Array, at: Date = new Date()): void {
  let usable = checkedCertificates.get(certificate);
  if (!usable) {
    usable = checkUsages(certificate);
    checkedCertificates.set(certificate, usable);
  }
  if (at < usable.validFrom || at > usable.validTo) {
    throw new EsignError(
      "E_CERT",
      `signer certificate ${usable.subject} is not valid now (${usable.validFrom.toISOString()} to ${usable.validTo.toISOString()})`,
    );
  }
}
