import { OID } from "../asn1/oids";
import { children, parseBer } from "../asn1/read";
import {
  type DigestAlgorithm,
  digestAlgorithmFromOid,
  digestLength,
  type SignatureParameters,
} from "./algorithms";

/** A signature algorithm as found in someone else's CMS, resolved enough to verify with node:crypto. */
export interface ParsedSignatureAlgorithm extends SignatureParameters {
  /** Human-readable, for reports (e.g. "rsa-pss-sha256 (salt 20)"). */
  name: string;
}

const RSA_PKCS1: Record<string, DigestAlgorithm> = {
  [OID.sha256WithRSAEncryption]: "sha256",
  [OID.sha384WithRSAEncryption]: "sha384",
  [OID.sha512WithRSAEncryption]: "sha512",
};
const ECDSA: Record<string, DigestAlgorithm> = {
  [OID.ecdsaWithSha256]: "sha256",
  [OID.ecdsaWithSha384]: "sha384",
  [OID.ecdsaWithSha512]: "sha512",
};
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";

function pssParameters(parameters: Uint8Array | undefined): {
  digest?: DigestAlgorithm;
  saltLength: number;
  mgfDigest?: DigestAlgorithm;
} {
  // RFC 4055 defaults (SHA-1, salt 20) are not something PAdES allows; absent fields stay undefined.
  const result: { digest?: DigestAlgorithm; saltLength: number; mgfDigest?: DigestAlgorithm } = {
    saltLength: 20,
  };
  if (!parameters) return result;
  for (const field of children(parseBer(parameters, "RSASSA-PSS parameters", "E_VERIFY"))) {
    const [inner] = children(field);
    if (!inner) continue;
    if (field.idBlock.tagNumber === 0) {
      result.digest = digestAlgorithmFromOid(children(inner)[0]?.valueBlock.toString() ?? "");
    } else if (field.idBlock.tagNumber === 1) {
      const mgfHash = children(inner)[1];
      result.mgfDigest = mgfHash
        ? digestAlgorithmFromOid(children(mgfHash)[0]?.valueBlock.toString() ?? "")
        : undefined;
    } else if (field.idBlock.tagNumber === 2) {
      result.saltLength = Number(
        (inner as unknown as { valueBlock: { valueDec: number } }).valueBlock.valueDec,
      );
    }
  }
  return result;
}

/**
 * Resolves SignerInfo.signatureAlgorithm. Plain rsaEncryption / id-ecPublicKey (which some
 * signers put there) take their hash from SignerInfo.digestAlgorithm.
 */
export function parseSignatureAlgorithm(
  oid: string,
  parameters: Uint8Array | undefined,
  signerDigest: DigestAlgorithm | undefined,
): ParsedSignatureAlgorithm | string {
  const rsaDigest = RSA_PKCS1[oid] ?? (oid === OID.rsaEncryption ? signerDigest : undefined);
  if (rsaDigest) return { family: "rsa-pkcs1", digest: rsaDigest, name: `rsa-pkcs1-${rsaDigest}` };
  const ecDigest = ECDSA[oid] ?? (oid === EC_PUBLIC_KEY ? signerDigest : undefined);
  if (ecDigest) return { family: "ecdsa", digest: ecDigest, name: `ecdsa-${ecDigest}` };
  if (oid === OID.rsassaPss) {
    const pss = pssParameters(parameters);
    if (!pss.digest) return "RSASSA-PSS with a hash other than SHA-2 (or default SHA-1 parameters)";
    if (pss.mgfDigest !== pss.digest) return "RSASSA-PSS whose MGF1 hash differs from its message hash";
    const name =
      pss.saltLength === digestLength(pss.digest)
        ? `rsa-pss-${pss.digest}`
        : `rsa-pss-${pss.digest} (salt ${pss.saltLength})`;
    return { family: "rsa-pss", digest: pss.digest, saltLength: pss.saltLength, name };
  }
  return `unsupported signature algorithm ${oid}`;
}
