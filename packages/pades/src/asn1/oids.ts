/** Object identifiers used by CMS, PAdES, RFC 3161 and revocation checking (OCSP, CRLs). */
export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  signatureTimeStampToken: "1.2.840.113549.1.9.16.2.14",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  sha512WithRSAEncryption: "1.2.840.113549.1.1.13",
  rsassaPss: "1.2.840.113549.1.1.10",
  mgf1: "1.2.840.113549.1.1.8",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
  /** SHA-1: only as the hash of OCSP CertIDs, which every responder understands (RFC 5019). */
  sha1: "1.3.14.3.2.26",
  ocspBasic: "1.3.6.1.5.5.7.48.1.1",
  /** id-pkix-ocsp-nocheck: a responder certificate whose own status is not to be asked. */
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
  /** Extended key usage id-kp-OCSPSigning: a CA's delegated OCSP responder. */
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  accessOcsp: "1.3.6.1.5.5.7.48.1",
  accessCaIssuers: "1.3.6.1.5.5.7.48.2",
  crlDistributionPoints: "2.5.29.31",
} as const;
