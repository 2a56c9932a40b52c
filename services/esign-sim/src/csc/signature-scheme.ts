import * as pkijs from "pkijs";
import type { CredentialDefinition } from "../credentials";
import { invalidParameter, missingParameter } from "../http/service-error";
import { hashByOid, OID } from "../oids";
import type { HashName, RawSignatureScheme } from "../signing/raw-signature";

export interface ResolvedScheme {
  scheme: RawSignatureScheme;
  /** Length in bytes every hash in the call must have. */
  hashLength: number;
}

function signingHash(
  oid: string | undefined,
  parameter: string,
): { name: HashName; oid: string; length: number } {
  if (oid === undefined) throw missingParameter("string", parameter);
  const hash = hashByOid(oid);
  if (!hash || hash.name === "sha1") throw invalidParameter(parameter);
  return { name: hash.name, oid, length: hash.length };
}

/** The hash a signAlgo names itself must agree with hashAlgorithmOID, when the client sends both. */
function impliedHash(hashAlgorithmOID: string | undefined, implied: string) {
  if (hashAlgorithmOID !== undefined && hashAlgorithmOID !== implied)
    throw invalidParameter("hashAlgorithmOID");
  return signingHash(implied, "hashAlgorithmOID");
}

/** RSASSA-PSS-params (RFC 8017 A.2.3) from signAlgoParams; MGF1 must use the same hash. */
function pssParameters(signAlgoParams: string | undefined) {
  if (signAlgoParams === undefined) throw missingParameter("string", "signAlgoParams");
  let params: pkijs.RSASSAPSSParams;
  try {
    params = pkijs.RSASSAPSSParams.fromBER(Buffer.from(signAlgoParams, "base64"));
  } catch {
    throw invalidParameter("signAlgoParams");
  }
  const hash = signingHash(params.hashAlgorithm.algorithmId, "signAlgoParams");
  const mgfHash = params.maskGenAlgorithm.algorithmParams
    ? new pkijs.AlgorithmIdentifier({ schema: params.maskGenAlgorithm.algorithmParams }).algorithmId
    : OID.sha1;
  if (params.maskGenAlgorithm.algorithmId !== OID.mgf1 || mgfHash !== hash.oid || params.trailerField !== 1) {
    throw invalidParameter("signAlgoParams");
  }
  return { hash, saltLength: params.saltLength };
}

/** Resolves signAlgo (+ hashAlgorithmOID, signAlgoParams) of a signHash call for the credential's key. */
export function resolveSignatureScheme(
  credential: CredentialDefinition,
  signAlgo: string,
  hashAlgorithmOID: string | undefined,
  signAlgoParams: string | undefined,
): ResolvedScheme {
  const rsa = credential.key.type === "RSA";
  if (rsa && signAlgo === OID.sha256WithRsa) {
    const hash = impliedHash(hashAlgorithmOID, OID.sha256);
    return { scheme: { kind: "rsa-pkcs1", hash: hash.name, hashOid: hash.oid }, hashLength: hash.length };
  }
  if (rsa && signAlgo === OID.rsaEncryption) {
    const hash = signingHash(hashAlgorithmOID, "hashAlgorithmOID");
    return { scheme: { kind: "rsa-pkcs1", hash: hash.name, hashOid: hash.oid }, hashLength: hash.length };
  }
  if (rsa && signAlgo === OID.rsassaPss) {
    const { hash, saltLength } = pssParameters(signAlgoParams);
    if (hashAlgorithmOID !== undefined && hashAlgorithmOID !== hash.oid)
      throw invalidParameter("hashAlgorithmOID");
    return { scheme: { kind: "rsa-pss", hash: hash.name, saltLength }, hashLength: hash.length };
  }
  if (!rsa && signAlgo === OID.ecdsaWithSha256) {
    return { scheme: { kind: "ecdsa" }, hashLength: impliedHash(hashAlgorithmOID, OID.sha256).length };
  }
  if (!rsa && signAlgo === OID.ecPublicKey) {
    return {
      scheme: { kind: "ecdsa" },
      hashLength: signingHash(hashAlgorithmOID, "hashAlgorithmOID").length,
    };
  }
  throw invalidParameter("signAlgo");
}
