import { createHash, constants as cryptoConstants, type KeyObject, sign, verify } from "node:crypto";
import { EsignError } from "@esign/errors";
import { explicit, nullValue, oid, sequence, unsignedInteger } from "../asn1/der";
import { OID } from "../asn1/oids";

export const DIGEST_ALGORITHMS = ["sha256", "sha384", "sha512"] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/**
 * The signature algorithms a PAdES signer can use. The hash named here is also the CMS digest
 * algorithm: message-digest, signed-attributes hash and ESSCertIDv2 hash all use it, because
 * validators (OpenSSL among them) hash the signed attributes with SignerInfo.digestAlgorithm.
 */
export const SIGNATURE_ALGORITHMS = [
  "rsa-pkcs1-sha256",
  "rsa-pkcs1-sha384",
  "rsa-pkcs1-sha512",
  "rsa-pss-sha256",
  "rsa-pss-sha384",
  "rsa-pss-sha512",
  "ecdsa-sha256",
  "ecdsa-sha384",
  "ecdsa-sha512",
] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
export type KeyFamily = "rsa-pkcs1" | "rsa-pss" | "ecdsa";

const DIGEST_OIDS: Record<DigestAlgorithm, string> = {
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};
const DIGEST_LENGTHS: Record<DigestAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };
const RSA_PKCS1_OIDS: Record<DigestAlgorithm, string> = {
  sha256: OID.sha256WithRSAEncryption,
  sha384: OID.sha384WithRSAEncryption,
  sha512: OID.sha512WithRSAEncryption,
};
const ECDSA_OIDS: Record<DigestAlgorithm, string> = {
  sha256: OID.ecdsaWithSha256,
  sha384: OID.ecdsaWithSha384,
  sha512: OID.ecdsaWithSha512,
};

export function splitSignatureAlgorithm(algorithm: SignatureAlgorithm): {
  family: KeyFamily;
  digest: DigestAlgorithm;
} {
  const cut = algorithm.lastIndexOf("-");
  return {
    family: algorithm.slice(0, cut) as KeyFamily,
    digest: algorithm.slice(cut + 1) as DigestAlgorithm,
  };
}

export function digestAlgorithmOf(algorithm: SignatureAlgorithm): DigestAlgorithm {
  return splitSignatureAlgorithm(algorithm).digest;
}

export function digestLength(algorithm: DigestAlgorithm): number {
  return DIGEST_LENGTHS[algorithm];
}

export function digestOid(algorithm: DigestAlgorithm): string {
  return DIGEST_OIDS[algorithm];
}

export function digestAlgorithmFromOid(dotted: string): DigestAlgorithm | undefined {
  return DIGEST_ALGORITHMS.find((name) => DIGEST_OIDS[name] === dotted);
}

export function hash(algorithm: DigestAlgorithm, data: Uint8Array): Uint8Array {
  return plainView(createHash(algorithm).update(data).digest());
}

/** The Buffer's bytes as a plain Uint8Array, without copying them (node returns a fresh Buffer). */
function plainView(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** AlgorithmIdentifier for a SHA-2 digest; parameters absent as RFC 5754 prefers. */
export function digestAlgorithmIdentifier(algorithm: DigestAlgorithm): Uint8Array {
  return sequence(oid(DIGEST_OIDS[algorithm]));
}

/** AlgorithmIdentifier for SignerInfo.signatureAlgorithm. */
export function signatureAlgorithmIdentifier(algorithm: SignatureAlgorithm): Uint8Array {
  const { family, digest } = splitSignatureAlgorithm(algorithm);
  switch (family) {
    case "rsa-pkcs1":
      // RFC 4055: the NULL parameter is required for the PKCS#1 v1.5 OIDs.
      return sequence(oid(RSA_PKCS1_OIDS[digest]), nullValue());
    case "ecdsa":
      return sequence(oid(ECDSA_OIDS[digest]));
    case "rsa-pss": {
      // Explicit parameters: validators must not guess the SHA-1 defaults of RFC 4055.
      const hashId = digestAlgorithmIdentifier(digest);
      return sequence(
        oid(OID.rsassaPss),
        sequence(
          explicit(0, hashId),
          explicit(1, sequence(oid(OID.mgf1), hashId)),
          explicit(2, unsignedInteger(DIGEST_LENGTHS[digest])),
        ),
      );
    }
  }
}

/** A signature algorithm resolved to what node:crypto needs; also describes other signers' choices. */
export interface SignatureParameters {
  family: KeyFamily;
  digest: DigestAlgorithm;
  /** RSASSA-PSS only. */
  saltLength?: number;
}

export function signatureParameters(algorithm: SignatureAlgorithm): SignatureParameters {
  const { family, digest } = splitSignatureAlgorithm(algorithm);
  return family === "rsa-pss" ? { family, digest, saltLength: DIGEST_LENGTHS[digest] } : { family, digest };
}

function nodeKeyOptions({ family, saltLength }: SignatureParameters) {
  if (family === "rsa-pss") return { padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength };
  if (family === "rsa-pkcs1") return { padding: cryptoConstants.RSA_PKCS1_PADDING };
  return { dsaEncoding: "der" as const };
}

/** Signs `data` (it is hashed here) with node:crypto; ECDSA signatures come out DER-encoded. */
export function signData(privateKey: KeyObject, algorithm: SignatureAlgorithm, data: Uint8Array): Uint8Array {
  const parameters = signatureParameters(algorithm);
  return plainView(sign(parameters.digest, data, { key: privateKey, ...nodeKeyOptions(parameters) }));
}

export function verifyData(
  publicKey: KeyObject,
  algorithm: SignatureAlgorithm | SignatureParameters,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const parameters = typeof algorithm === "string" ? signatureParameters(algorithm) : algorithm;
  try {
    return verify(parameters.digest, data, { key: publicKey, ...nodeKeyOptions(parameters) }, signature);
  } catch {
    // node throws on malformed signatures (bad DER, wrong length); for a verifier that is "invalid".
    return false;
  }
}

const CURVE_DIGESTS: Record<string, DigestAlgorithm> = {
  prime256v1: "sha256",
  secp384r1: "sha384",
  secp521r1: "sha512",
};

/** The signature algorithms a key can make, the first being the natural default. */
export function signatureAlgorithmsForKey(key: KeyObject): SignatureAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return [
        "rsa-pkcs1-sha256",
        "rsa-pss-sha256",
        "rsa-pkcs1-sha384",
        "rsa-pss-sha384",
        "rsa-pkcs1-sha512",
        "rsa-pss-sha512",
      ];
    case "rsa-pss":
      return ["rsa-pss-sha256", "rsa-pss-sha384", "rsa-pss-sha512"];
    case "ec": {
      const digest = CURVE_DIGESTS[key.asymmetricKeyDetails?.namedCurve ?? ""];
      if (!digest) {
        throw new EsignError(
          "E_KEY",
          `unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve ?? "(unknown)"}`,
        );
      }
      return [
        `ecdsa-${digest}`,
        ...DIGEST_ALGORITHMS.filter((d) => d !== digest).map((d) => `ecdsa-${d}` as const),
      ];
    }
    default:
      throw new EsignError("E_KEY", `unsupported key type ${key.asymmetricKeyType ?? "(unknown)"}`);
  }
}
