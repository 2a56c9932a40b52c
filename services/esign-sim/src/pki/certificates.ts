import { randomBytes } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { OID } from "../oids";
import type { KeyMaterial } from "./keys";

export interface PkiEntity {
  key: KeyMaterial;
  certificate: x509.X509Certificate;
  /** DER of the certificate. */
  der: Buffer;
}

/** Where the certificates tell relying parties to fetch issuers and revocation status. */
export function pkiUrls(baseUrl: string) {
  return {
    ocsp: `${baseUrl}/ocsp`,
    rootCertificate: `${baseUrl}/pki/root.cer`,
    issuingCertificate: `${baseUrl}/pki/issuing.cer`,
    rootCrl: `${baseUrl}/crl/root.crl`,
    issuingCrl: `${baseUrl}/crl/issuing.crl`,
  };
}

export type CertificateProfile = "root" | "issuing" | "signer" | "tsa" | "ocsp";

const YEAR_MS = 365 * 24 * 3600 * 1000;
const VALIDITY_YEARS: Record<CertificateProfile, number> = {
  root: 20,
  issuing: 10,
  signer: 3,
  tsa: 5,
  ocsp: 2,
};
// Certificates valid from an hour ago, so clients whose clock runs a little behind accept them.
const BACKDATE_MS = 3600 * 1000;

/** RFC 5280 serial: positive, at most 20 octets; 16 random octets make collisions irrelevant. */
function randomSerialHex(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10;
  return serial.toString("hex");
}

async function profileExtensions(
  profile: CertificateProfile,
  baseUrl: string,
  key: KeyMaterial,
  issuer: PkiEntity | undefined,
): Promise<x509.Extension[]> {
  const urls = pkiUrls(baseUrl);
  const extensions: x509.Extension[] = [await x509.SubjectKeyIdentifierExtension.create(key.publicCryptoKey)];
  if (issuer) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.key.publicCryptoKey));
  }
  const flags = x509.KeyUsageFlags;
  switch (profile) {
    case "root":
      extensions.push(
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(flags.keyCertSign | flags.cRLSign, true),
      );
      break;
    case "issuing":
      extensions.push(
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(flags.keyCertSign | flags.cRLSign, true),
        new x509.AuthorityInfoAccessExtension({ ocsp: urls.ocsp, caIssuers: urls.rootCertificate }),
        new x509.CRLDistributionPointsExtension([urls.rootCrl]),
      );
      break;
    case "signer":
      extensions.push(
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(flags.digitalSignature | flags.nonRepudiation, true),
        // Acrobat accepts document signing certificates with emailProtection or Adobe Authentic Documents.
        new x509.ExtendedKeyUsageExtension([OID.emailProtection, OID.adobeAuthenticDocuments], false),
        ...leafRevocationPointers(urls),
      );
      break;
    case "tsa":
      extensions.push(
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(flags.digitalSignature | flags.nonRepudiation, true),
        // RFC 3161 2.3: the TSA certificate has exactly one EKU, timeStamping, and it is critical.
        new x509.ExtendedKeyUsageExtension([OID.timeStamping], true),
        ...leafRevocationPointers(urls),
      );
      break;
    case "ocsp":
      extensions.push(
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(flags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([OID.ocspSigning], false),
        // id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1): relying parties need not check the responder itself.
        new x509.Extension(OID.ocspNoCheck, false, new Uint8Array([0x05, 0x00])),
        new x509.AuthorityInfoAccessExtension({ caIssuers: urls.issuingCertificate }),
      );
      break;
  }
  return extensions;
}

function leafRevocationPointers(urls: ReturnType<typeof pkiUrls>): x509.Extension[] {
  return [
    new x509.AuthorityInfoAccessExtension({ ocsp: urls.ocsp, caIssuers: urls.issuingCertificate }),
    new x509.CRLDistributionPointsExtension([urls.issuingCrl]),
  ];
}

/** Issues a certificate of the given profile; without an issuer it is self-signed (the root). */
export async function issueCertificate(params: {
  profile: CertificateProfile;
  subject: string;
  key: KeyMaterial;
  issuer?: PkiEntity;
  baseUrl: string;
  email?: string;
}): Promise<PkiEntity> {
  const { profile, subject, key, issuer, baseUrl } = params;
  const extensions = await profileExtensions(profile, baseUrl, key, issuer);
  if (params.email) {
    extensions.push(new x509.SubjectAlternativeNameExtension([{ type: "email", value: params.email }]));
  }
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_YEARS[profile] * YEAR_MS);
  const signer = issuer?.key ?? key;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject,
    issuer: issuer ? issuer.certificate.subject : subject,
    notBefore,
    notAfter,
    publicKey: key.publicCryptoKey,
    signingKey: signer.signingKey,
    signingAlgorithm: signer.signingAlgorithm,
    extensions,
  });
  return { key, certificate, der: Buffer.from(certificate.rawData) };
}

export function entityFromPem(key: KeyMaterial, certificatePem: string): PkiEntity {
  const certificate = new x509.X509Certificate(certificatePem);
  return { key, certificate, der: Buffer.from(certificate.rawData) };
}
