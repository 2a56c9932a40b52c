import type { DigestAlgorithm, SignatureAlgorithm } from "@esign/pades";

export type PadesLevel = "B-B" | "B-T" | "B-LT" | "B-LTA";

export interface SignerDescription {
  /** Signer certificate, DER. */
  certificate: Uint8Array;
  /** Issuer certificates, nearest first, DER. */
  chain: Uint8Array[];
  /** Also fixes the document digest algorithm: see `digestAlgorithmOf` in @esign/pades. */
  signatureAlgorithm: SignatureAlgorithm;
}

export interface SignRequest {
  /** Digest of the PDF's byte range; only this leaves the machine. */
  documentDigest: Uint8Array;
  digestAlgorithm: DigestAlgorithm;
  level: PadesLevel;
  /**
   * Sent as the `Idempotency-Key` of the paid call, by services that honour one: the same key and
   * request again get the first answer back, not billed twice. Derived from non-secret data only
   * (it travels in clear to the service).
   */
  idempotencyKey?: string;
}

/** Validation material a signer gathered (for the /DSS of B-LT), all DER. */
export interface LtvMaterial {
  certs: Uint8Array[];
  ocsps: Uint8Array[];
  crls: Uint8Array[];
}

export interface SignResult {
  /** Detached CMS SignedData (ContentInfo, DER) ready for /Contents. */
  cms: Uint8Array;
  ltv?: LtvMaterial;
  /** The service answered from its idempotency store (`Idempotent-Replayed`): not billed again. */
  replayed?: boolean;
}

/** What a raw signature provider returns for a call of `signHashes`. */
export interface RawSignatures {
  /** In the order of the hashes. */
  signatures: Uint8Array[];
  /** Per signature, when the service says so: it replayed an earlier answer instead of signing again. */
  replayed?: boolean[];
}

/** What the pipeline signs with. Every backend (p12, csc, esign-api, pkcs11) implements it. */
export interface Signer {
  describe(): Promise<SignerDescription>;
  sign(request: SignRequest): Promise<SignResult>;
  /** Several documents at once where the backend can batch (one authorization, one round trip). */
  signBatch?(requests: SignRequest[]): Promise<SignResult[]>;
  /** Upper bound of the DER size of `sign`'s CMS at this level, to size the /Contents placeholder. */
  estimateCmsSize(level: PadesLevel): Promise<number>;
  /**
   * A cheap call on the path signing takes, billing nothing (CSC: credentials/info), made afresh:
   * rejects with the error a signing call would meet now (service down, credentials refused,
   * credential revoked). Absent where no such call exists (a local key, a sign-only API).
   */
  probe?(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A key that makes raw signatures (CSC signHash, PKCS#11 C_Sign, a local key). `hashes[i]` is the
 * digest of `toBeSigned[i]` with the description's digest algorithm. Remote services sign the hash
 * and ignore `toBeSigned`; a local key signs `toBeSigned` itself, which node:crypto needs to make
 * RSA-PSS and ECDSA signatures. Signatures come back in order; ECDSA as DER SEQUENCE { r, s }.
 * `idempotencyKeys[i]` is the key of the request `hashes[i]` belongs to (SignRequest.idempotencyKey);
 * services that honour keys get one per call, derived from those of the hashes it carries.
 */
export interface RawSignatureProvider {
  describe(): Promise<SignerDescription>;
  signHashes(
    hashes: Uint8Array[],
    toBeSigned: Uint8Array[],
    idempotencyKeys?: readonly (string | undefined)[],
  ): Promise<RawSignatures>;
  /** As Signer.probe. */
  probe?(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * Adds a signature time-stamp (B-T): given SignerInfo.signature's octets, returns an RFC 3161
 * TimeStampToken (ContentInfo, DER) whose messageImprint is a hash of those octets.
 */
export interface Timestamper {
  timestamp(signatureValue: Uint8Array): Promise<Uint8Array>;
  /** Upper bound of a token's DER size (its TSA certificates included), for /Contents sizing. */
  estimateTokenSize(): Promise<number>;
}
