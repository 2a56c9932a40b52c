import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import {
  type DigestAlgorithm,
  digestAlgorithmOf,
  type SignatureAlgorithm,
  signatureAlgorithmsForKey,
} from "@esign/pades";
import * as pkcs11Module from "pkcs11js";
import { CmsBuildingSigner } from "./cms-building-signer";
import { ecdsaSignatureToDer } from "./ecdsa";
import type { RawSignatureProvider, RawSignatures, SignerDescription, Timestamper } from "./types";

export interface Pkcs11SignerOptions {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  /** Slot ID as the module reports it (pkcs11-tool --list-slots), or the index among slots with a token. */
  slot: number;
  pin: string;
  /** CKA_LABEL of the private key. */
  keyLabel: string;
  /** The key's certificate (DER) and its issuers, nearest first. */
  certificate: Uint8Array;
  chain?: Uint8Array[];
  /** Default: PKCS#1 v1.5 with SHA-256 for RSA keys, the curve's hash for ECDSA. */
  signatureAlgorithm?: SignatureAlgorithm;
}

/**
 * pkcs11js is CommonJS with its constants attached at run time: Node's ESM loader (tsx) finds only
 * some of them as named exports, so take the module object itself when there is one.
 */
const pkcs11js = (pkcs11Module as unknown as { default?: typeof pkcs11Module }).default ?? pkcs11Module;

/** DER DigestInfo prefixes (RFC 8017 9.2 note 1): CKM_RSA_PKCS signs DigestInfo(hash) as given. */
const DIGEST_INFO_PREFIXES: Record<DigestAlgorithm, string> = {
  sha256: "3031300d060960864801650304020105000420",
  sha384: "3041300d060960864801650304020205000430",
  sha512: "3051300d060960864801650304020305000440",
};
const FIELD_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

function pkcs11Error(cause: unknown, doing: string): EsignError {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/CKR_PIN_(INCORRECT|INVALID|LOCKED|EXPIRED)/.test(message)) {
    return new EsignError("E_SIGNER_AUTH", `PKCS#11 ${doing}: ${message}`, { cause });
  }
  if (/CKR_(DEVICE|TOKEN_NOT_PRESENT|SESSION)/.test(message)) {
    return new EsignError("E_SIGNER_UNAVAILABLE", `PKCS#11 ${doing}: ${message}`, { cause });
  }
  return new EsignError("E_KEY", `PKCS#11 ${doing}: ${message}`, { cause });
}

interface Session {
  module: pkcs11Module.PKCS11;
  handle: Buffer;
  key: Buffer;
}

/**
 * A private key in an HSM or token, through its PKCS#11 module. It signs hashes: CKM_RSA_PKCS over
 * a DigestInfo for RSA, CKM_ECDSA over the hash for EC (raw r||s turned into DER).
 */
export class Pkcs11Provider implements RawSignatureProvider {
  private session: Session | undefined;
  private readonly signatureAlgorithm: SignatureAlgorithm;
  private readonly ecFieldBytes: number | undefined;

  constructor(private readonly options: Pkcs11SignerOptions) {
    const publicKey = new X509Certificate(options.certificate).publicKey;
    this.signatureAlgorithm = options.signatureAlgorithm ?? signatureAlgorithmsForKey(publicKey)[0]!;
    if (this.signatureAlgorithm.startsWith("rsa-pss")) {
      throw new EsignError(
        "E_CONFIG",
        "the pkcs11 signer makes RSA PKCS#1 v1.5 and ECDSA signatures, not RSA-PSS",
      );
    }
    this.ecFieldBytes = FIELD_BYTES[publicKey.asymmetricKeyDetails?.namedCurve ?? ""];
  }

  async describe(): Promise<SignerDescription> {
    return {
      certificate: this.options.certificate,
      chain: this.options.chain ?? [],
      signatureAlgorithm: this.signatureAlgorithm,
    };
  }

  async signHashes(hashes: Uint8Array[]): Promise<RawSignatures> {
    const { module, handle, key } = this.open();
    const rsa = this.ecFieldBytes === undefined;
    const prefix = Buffer.from(DIGEST_INFO_PREFIXES[digestAlgorithmOf(this.signatureAlgorithm)], "hex");
    const signatures = hashes.map((hash) => {
      try {
        module.C_SignInit(handle, { mechanism: rsa ? pkcs11js.CKM_RSA_PKCS : pkcs11js.CKM_ECDSA }, key);
        const input = rsa ? Buffer.concat([prefix, hash]) : Buffer.from(hash);
        const signature = new Uint8Array(module.C_Sign(handle, input, Buffer.alloc(1024)));
        return rsa ? signature : ecdsaSignatureToDer(signature, this.ecFieldBytes!);
      } catch (cause) {
        throw cause instanceof EsignError ? cause : pkcs11Error(cause, "signing");
      }
    });
    return { signatures };
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    try {
      session.module.C_Logout(session.handle);
      session.module.C_CloseSession(session.handle);
    } finally {
      session.module.C_Finalize();
    }
  }

  /** Loads the module, opens a session on the slot, logs in and finds the key; once. */
  private open(): Session {
    if (this.session) return this.session;
    const module = new pkcs11js.PKCS11();
    try {
      module.load(this.options.module);
    } catch (cause) {
      throw new EsignError("E_CONFIG", `cannot load PKCS#11 module ${this.options.module}`, { cause });
    }
    let initialized = false;
    try {
      module.C_Initialize();
      initialized = true;
      const handle = module.C_OpenSession(this.slot(module), pkcs11js.CKF_SERIAL_SESSION);
      module.C_Login(handle, pkcs11js.CKU_USER, this.options.pin);
      module.C_FindObjectsInit(handle, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_LABEL, value: this.options.keyLabel },
      ]);
      const keys = module.C_FindObjects(handle, 2);
      module.C_FindObjectsFinal(handle);
      if (keys.length !== 1) {
        throw new EsignError(
          "E_KEY",
          `${keys.length === 0 ? "no" : "more than one"} private key labelled "${this.options.keyLabel}" on the token`,
        );
      }
      this.session = { module, handle, key: keys[0]! };
      return this.session;
    } catch (cause) {
      if (initialized) module.C_Finalize();
      throw cause instanceof EsignError ? cause : pkcs11Error(cause, "opening the token");
    }
  }

  private slot(module: pkcs11Module.PKCS11): Buffer {
    const slots = module.C_GetSlotList(true);
    const wanted = BigInt(this.options.slot);
    const byId = slots.find((slot) => slot.length === 8 && slot.readBigUInt64LE() === wanted);
    const slot = byId ?? slots[this.options.slot];
    if (!slot) {
      throw new EsignError(
        "E_CONFIG",
        `no token in PKCS#11 slot ${this.options.slot} (${slots.length} slots with a token)`,
      );
    }
    return slot;
  }
}

/** The `pkcs11` backend: an HSM key behind the CMS-building signer. */
export function createPkcs11Signer(
  options: Pkcs11SignerOptions & { timestamper?: Timestamper },
): CmsBuildingSigner {
  return new CmsBuildingSigner({ provider: new Pkcs11Provider(options), timestamper: options.timestamper });
}
