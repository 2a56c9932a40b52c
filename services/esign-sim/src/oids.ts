/** Object identifiers the simulator writes or accepts, named once so call sites read as prose. */
export const OID = {
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  mgf1: "1.2.840.113549.1.1.8",
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsassaPss: "1.2.840.113549.1.1.10",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  prime256v1: "1.2.840.10045.3.1.7",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  adobeAuthenticDocuments: "1.2.840.113583.1.1.5",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
  ocspBasic: "1.3.6.1.5.5.7.48.1.1",
  ocspNonce: "1.3.6.1.5.5.7.48.1.2",
  contentTypeAttr: "1.2.840.113549.1.9.3",
  messageDigestAttr: "1.2.840.113549.1.9.4",
  signingTimeAttr: "1.2.840.113549.1.9.5",
  signingCertificateV2Attr: "1.2.840.113549.1.9.16.2.47",
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  /** X.660 reserves 2.999 for examples: a policy OID that can never collide with a real TSA's. */
  simulatorTsaPolicy: "2.999.1.3161",
} as const;

const HASH_BY_OID: Record<string, { name: "sha1" | "sha256" | "sha384" | "sha512"; length: number }> = {
  [OID.sha1]: { name: "sha1", length: 20 },
  [OID.sha256]: { name: "sha256", length: 32 },
  [OID.sha384]: { name: "sha384", length: 48 },
  [OID.sha512]: { name: "sha512", length: 64 },
};

export function hashByOid(
  oid: string,
): { name: "sha1" | "sha256" | "sha384" | "sha512"; length: number } | undefined {
  return HASH_BY_OID[oid];
}
