import { createHash, X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import {
  digestAlgorithmOf,
  OID,
  type SignatureAlgorithm,
  signatureAlgorithmIdentifier,
  signatureAlgorithmsForKey,
} from "@esign/pades";
import { z } from "zod";
import { CmsBuildingSigner } from "./cms-building-signer";
import { CscClient, type CscClientOptions } from "./csc-client";
import { ecdsaSignatureToDer } from "./ecdsa";
import { type HashBatchingOptions, withHashBatching } from "./hash-batcher";
import { base64Bytes } from "./remote-http";
import type { RawSignatureProvider, RawSignatures, SignerDescription, Timestamper } from "./types";

const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const DIGEST_OIDS = { sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 } as const;
const RSA_PKCS1_OIDS = {
  sha256: OID.sha256WithRSAEncryption,
  sha384: OID.sha384WithRSAEncryption,
  sha512: OID.sha512WithRSAEncryption,
} as const;
const ECDSA_OIDS = {
  sha256: OID.ecdsaWithSha256,
  sha384: OID.ecdsaWithSha384,
  sha512: OID.ecdsaWithSha512,
} as const;
/** SAD lifetime we do not cut into: a SAD about to expire is not reused. */
const SAD_SAFETY_MS = 5_000;

const credentialInfoSchema = z.object({
  key: z.object({ status: z.string(), algo: z.array(z.string()).min(1) }),
  cert: z.object({ status: z.string().optional(), certificates: z.array(z.string()).min(1) }),
  authMode: z.string(),
  SCAL: z.string().optional(),
  multisign: z.number().int().min(1).default(1),
  auth: z.object({ mode: z.string(), objects: z.array(z.object({ id: z.string() })).optional() }).optional(),
});
const authorizeSchema = z.object({ SAD: z.string().min(1), expiresIn: z.number().positive().default(3600) });
const signHashSchema = z.object({ signatures: z.array(z.string()) });

export interface CscSignerOptions extends CscClientOptions {
  credentialId: string;
  /** The credential's PIN, for credentials authorised explicitly. */
  pin?: string;
  /** A one-time password already sent to the owner (used once). */
  otp?: string;
  /**
   * Asked for an OTP after credentials/sendOTP, whenever an authorization needs one and `otp`
   * is used up or absent (e.g. a prompt). Without it, such credentials need `otp`.
   */
  requestOtp?: () => Promise<string>;
  /** Overrides the default algorithm for the key (PKCS#1 v1.5 for RSA, the curve's hash for ECDSA). */
  signatureAlgorithm?: SignatureAlgorithm;
}

interface Credential extends SignerDescription {
  signAlgo: string;
  hashAlgorithmOid: string;
  signAlgoParams?: string;
  multisign: number;
  explicit: boolean;
  /** SCAL 2: every SAD is bound to the hashes it was issued for, so none is reused. */
  hashBoundSad: boolean;
  needsPin: boolean;
  needsOtp: boolean;
  /** ECDSA: the curve's field size, to turn raw r||s into DER. */
  ecFieldBytes?: number;
}

interface Sad {
  value: string;
  expiresAt: number;
  remaining: number;
}

/** How the CSC signAlgo (and its parameters) names one of our signature algorithms for a key. */
function signAlgoFor(algorithm: SignatureAlgorithm, offered: string[]) {
  const digest = digestAlgorithmOf(algorithm);
  const hashAlgorithmOid = DIGEST_OIDS[digest];
  const family = algorithm.slice(0, algorithm.lastIndexOf("-"));
  const pick = (specific: string, generic: string) =>
    offered.includes(specific) ? specific : offered.includes(generic) ? generic : undefined;
  if (family === "rsa-pkcs1")
    return { signAlgo: pick(RSA_PKCS1_OIDS[digest], OID.rsaEncryption), hashAlgorithmOid };
  if (family === "ecdsa") return { signAlgo: pick(ECDSA_OIDS[digest], EC_PUBLIC_KEY), hashAlgorithmOid };
  return {
    signAlgo: offered.includes(OID.rsassaPss) ? OID.rsassaPss : undefined,
    hashAlgorithmOid,
    signAlgoParams: Buffer.from(algorithmParameters(signatureAlgorithmIdentifier(algorithm))).toString(
      "base64",
    ),
  };
}

/** The parameters of a DER AlgorithmIdentifier SEQUENCE { OID, parameters }: what follows the OID. */
function algorithmParameters(identifier: Uint8Array): Uint8Array {
  const lengthOctets = identifier[1]! & 0x80 ? 1 + (identifier[1]! & 0x7f) : 1;
  const oidStart = 1 + lengthOctets;
  return identifier.subarray(oidStart + 2 + identifier[oidStart + 1]!);
}

const FIELD_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

/**
 * A CSC API v2 credential as a raw signature provider: credentials/info for the chain and key
 * algorithms, credentials/authorize (PIN, OTP) for a SAD, signatures/signHash for the signatures,
 * several hashes per call up to the credential's `multisign`.
 */
export class CscProvider implements RawSignatureProvider {
  private readonly client: CscClient;
  private credential: Promise<Credential> | undefined;
  private sad: Sad | undefined;
  private otp: string | undefined;

  constructor(private readonly options: CscSignerOptions) {
    this.client = new CscClient(options);
    this.otp = options.otp;
  }

  async describe(): Promise<SignerDescription> {
    const { certificate, chain, signatureAlgorithm } = await this.loadCredential();
    return { certificate, chain, signatureAlgorithm };
  }

  /** credentials/info afresh (token, service, credential status), not the cached answer. */
  async probe(): Promise<void> {
    await this.fetchCredential();
  }

  async signHashes(
    hashes: Uint8Array[],
    _toBeSigned: Uint8Array[],
    idempotencyKeys: readonly (string | undefined)[] = [],
  ): Promise<RawSignatures> {
    const credential = await this.loadCredential();
    const signatures: Uint8Array[] = [];
    const replayed: boolean[] = [];
    for (let start = 0; start < hashes.length; start += credential.multisign) {
      const end = start + credential.multisign;
      const chunk = await this.signChunk(
        credential,
        hashes.slice(start, end),
        callKeyOf(idempotencyKeys.slice(start, end), hashes.slice(start, end).length),
      );
      signatures.push(...chunk.signatures);
      replayed.push(...chunk.signatures.map(() => chunk.replayed));
    }
    return { signatures, replayed };
  }

  private loadCredential(): Promise<Credential> {
    this.credential ??= this.fetchCredential().catch((error: unknown) => {
      this.credential = undefined;
      throw error;
    });
    return this.credential;
  }

  private async fetchCredential(): Promise<Credential> {
    const info = await this.client.call(
      "credentials/info",
      { credentialID: this.options.credentialId, certificates: "chain", certInfo: true, authInfo: true },
      credentialInfoSchema,
    );
    if (info.key.status !== "enabled" || (info.cert.status && info.cert.status !== "valid")) {
      throw new EsignError(
        "E_SIGNER_REVOKED",
        `credential ${this.options.credentialId}: key ${info.key.status}, certificate ${info.cert.status}`,
      );
    }
    const [certificate, ...chain] = info.cert.certificates.map(base64Bytes);
    let publicKey: X509Certificate["publicKey"];
    try {
      publicKey = new X509Certificate(certificate!).publicKey;
    } catch (cause) {
      throw new EsignError("E_SIGNER_BAD_RESPONSE", "credentials/info sent an unreadable certificate", {
        cause,
      });
    }
    const signatureAlgorithm = this.options.signatureAlgorithm ?? signatureAlgorithmsForKey(publicKey)[0]!;
    const scheme = signAlgoFor(signatureAlgorithm, info.key.algo);
    if (!scheme.signAlgo) {
      throw new EsignError(
        "E_CONFIG",
        `credential ${this.options.credentialId} offers ${info.key.algo.join(", ")}, none of which makes ${signatureAlgorithm}`,
      );
    }
    const authIds = new Set((info.auth?.objects ?? []).map((object) => object.id.toUpperCase()));
    const explicit = info.authMode === "explicit";
    return {
      certificate: certificate!,
      chain,
      signatureAlgorithm,
      signAlgo: scheme.signAlgo,
      hashAlgorithmOid: scheme.hashAlgorithmOid,
      signAlgoParams: scheme.signAlgoParams,
      multisign: info.multisign,
      explicit,
      hashBoundSad: info.SCAL === "2",
      needsPin: explicit && authIds.has("PIN"),
      needsOtp: explicit && authIds.has("OTP"),
      ecFieldBytes: FIELD_BYTES[publicKey.asymmetricKeyDetails?.namedCurve ?? ""],
    };
  }

  private async signChunk(
    credential: Credential,
    hashes: Uint8Array[],
    idempotencyKey: string | undefined,
  ): Promise<{ signatures: Uint8Array[]; replayed: boolean }> {
    const encoded = hashes.map((hash) => Buffer.from(hash).toString("base64"));
    const sad = credential.explicit ? await this.authorize(credential, encoded) : undefined;
    const { body: answer, replayed } = await this.client.callOnce(
      "signatures/signHash",
      {
        credentialID: this.options.credentialId,
        ...(sad ? { SAD: sad } : {}),
        hashes: encoded,
        hashAlgorithmOID: credential.hashAlgorithmOid,
        signAlgo: credential.signAlgo,
        ...(credential.signAlgoParams ? { signAlgoParams: credential.signAlgoParams } : {}),
      },
      signHashSchema,
      idempotencyKey,
    );
    if (answer.signatures.length !== hashes.length) {
      throw new EsignError(
        "E_SIGNER_BAD_RESPONSE",
        `signHash was sent ${hashes.length} hashes and returned ${answer.signatures.length} signatures`,
      );
    }
    const signatures = answer.signatures.map((signature) => {
      const bytes = base64Bytes(signature);
      return credential.ecFieldBytes ? ecdsaSignatureToDer(bytes, credential.ecFieldBytes) : bytes;
    });
    return { signatures, replayed };
  }

  /**
   * A SAD for these hashes. SCAL 2 SADs are bound to their hashes and issued per call; others are
   * reused while valid and not used up, so one PIN/OTP entry covers several documents.
   */
  private async authorize(credential: Credential, hashes: string[]): Promise<string> {
    const cached = this.sad;
    if (
      !credential.hashBoundSad &&
      cached &&
      cached.expiresAt > Date.now() &&
      cached.remaining >= hashes.length
    ) {
      cached.remaining -= hashes.length;
      return cached.value;
    }
    const numSignatures = credential.hashBoundSad ? hashes.length : credential.multisign;
    const authData = [
      ...(credential.needsPin ? [{ id: "PIN", value: this.required(this.options.pin, "a PIN") }] : []),
      ...(credential.needsOtp ? [{ id: "OTP", value: await this.takeOtp() }] : []),
    ];
    const answer = await this.client.call(
      "credentials/authorize",
      {
        credentialID: this.options.credentialId,
        numSignatures,
        ...(credential.hashBoundSad ? { hashes, hashAlgorithmOID: credential.hashAlgorithmOid } : {}),
        ...(authData.length > 0 ? { authData } : {}),
      },
      authorizeSchema,
    );
    this.sad = credential.hashBoundSad
      ? undefined
      : {
          value: answer.SAD,
          expiresAt: Date.now() + answer.expiresIn * 1000 - SAD_SAFETY_MS,
          remaining: numSignatures - hashes.length,
        };
    return answer.SAD;
  }

  /** An OTP is good for one authorization: the given one first, then fresh ones via sendOTP. */
  private async takeOtp(): Promise<string> {
    const given = this.otp;
    this.otp = undefined;
    if (given) return given;
    if (!this.options.requestOtp) {
      throw new EsignError(
        "E_CONFIG",
        `credential ${this.options.credentialId} needs a one-time password for each authorization; give one (--otp)`,
      );
    }
    await this.client.call("credentials/sendOTP", { credentialID: this.options.credentialId }, z.unknown());
    return this.options.requestOtp();
  }

  private required(value: string | undefined, what: string): string {
    if (!value)
      throw new EsignError("E_CONFIG", `credential ${this.options.credentialId} needs ${what} (--pin)`);
    return value;
  }
}

/**
 * The Idempotency-Key of one signHash call: the key of its one request, or for several hashes a
 * digest of their keys in order (the call is the same call only with the same contents). None when
 * a hash has no key: such a call cannot be recognised again anyway.
 */
function callKeyOf(keys: readonly (string | undefined)[], hashCount: number): string | undefined {
  if (keys.length !== hashCount || keys.some((key) => key === undefined)) return undefined;
  if (keys.length === 1) return keys[0];
  return `batch-${createHash("sha256").update(keys.join("\n")).digest("hex")}`;
}

/**
 * The `csc` backend: a CSC API v2 credential behind the CMS-building signer; with `hashBatching`,
 * concurrent documents share signHash calls (see hash-batcher.ts).
 */
export function createCscSigner(
  options: CscSignerOptions & { timestamper?: Timestamper; hashBatching?: HashBatchingOptions },
): CmsBuildingSigner {
  const provider = withHashBatching(new CscProvider(options), options.hashBatching);
  return new CmsBuildingSigner({ provider, timestamper: options.timestamper });
}
