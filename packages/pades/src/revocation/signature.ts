import type { KeyObject } from "node:crypto";
import { type Block, children, octetsOf, oidOf, rawBytes } from "../asn1/read";
import { type ParsedSignatureAlgorithm, parseSignatureAlgorithm } from "../pki/algorithm-identifiers";
import { verifyData } from "../pki/algorithms";

/** A structure signed the X.509 way: SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING, ... }. */
export interface SignedStructure {
  /** The signed part, as encoded. */
  tbs: Uint8Array;
  /** The algorithm resolved for node:crypto, or why it cannot be used. */
  algorithm: ParsedSignatureAlgorithm | string;
  signature: Uint8Array;
}

/**
 * Reads the signature of a BasicOCSPResponse or a CertificateList. Its algorithm is read the way
 * a CMS signer's is (RSA PKCS#1 v1.5, RSASSA-PSS with its parameters, ECDSA; SHA-2 only), so
 * whatever a signature may use, the revocation data vouching for its certificate may use too.
 */
export function signedStructure(block: Block): SignedStructure | undefined {
  const [tbs, algorithm, signature] = children(block);
  if (!tbs || !algorithm || !signature) return undefined;
  const [algorithmOid, parameters] = children(algorithm);
  return {
    tbs: rawBytes(tbs),
    algorithm: parseSignatureAlgorithm(
      oidOf(algorithmOid) ?? "",
      parameters && rawBytes(parameters),
      undefined,
    ),
    signature: octetsOf(signature),
  };
}

export function isSignedBy(signed: SignedStructure, publicKey: KeyObject): boolean {
  return (
    typeof signed.algorithm !== "string" &&
    verifyData(publicKey, signed.algorithm, signed.tbs, signed.signature)
  );
}
