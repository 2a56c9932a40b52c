import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  randomInt,
  scryptSync,
  timingSafeEqual,
} from "node:crypto";
import { EsignError } from "@esign/errors";

/**
 * The secrets of e-contracts and how each is kept: signer link tokens (SHA-256, they are long
 * random values), OTPs (HMAC under the agent's contract secret: a 6-digit code's plain hash would
 * fall to a million guesses), access codes (scrypt with salt: people choose them) and the PIN/OTP
 * hand-over to the worker (AES-256-GCM under the contract secret). None is stored in plain text.
 */

/** A signer link token: 256 random bits, URL-safe. */
export function newSignerToken(): string {
  return randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Six decimal digits, uniformly random. */
export function newOtp(): string {
  return String(randomInt(1_000_000)).padStart(6, "0");
}

function equalHex(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}

const SCRYPT_KEY_BYTES = 32;

/** `scrypt$<salt>$<hash>` (hex). */
export function hashAccessCode(code: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString("hex")}$${scryptSync(code, salt, SCRYPT_KEY_BYTES).toString("hex")}`;
}

export function verifyAccessCode(code: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  return equalHex(scryptSync(code, Buffer.from(salt, "hex"), SCRYPT_KEY_BYTES).toString("hex"), hash);
}

/** The agent's contract secret (`ESIGN_CONTRACT_SECRET`): keys the OTP hashes and the secret hand-over. */
export class ContractSecrets {
  private readonly otpKey: Buffer;
  private readonly boxKey: Buffer;

  constructor(secret: string) {
    if (secret.length < 32) {
      throw new EsignError("E_CONFIG", "the contract secret must be at least 32 characters");
    }
    // Two keys from one secret, so an OTP hash never doubles as an encryption key.
    this.otpKey = createHmac("sha256", secret).update("esign contract otp").digest();
    this.boxKey = createHmac("sha256", secret).update("esign contract secret box").digest();
  }

  /** The OTP bound to its signer: a code sent to one signer is worth nothing for another. */
  hashOtp(subject: string, code: string): string {
    return createHmac("sha256", this.otpKey).update(`${subject}\0${code}`).digest("hex");
  }

  verifyOtp(subject: string, code: string, stored: string): boolean {
    return equalHex(this.hashOtp(subject, code), stored);
  }

  /** AES-256-GCM; `context` (e.g. the Redis key) is authenticated, so a box cannot be moved to another key. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.boxKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  open(box: string, context: string): string {
    const bytes = Buffer.from(box, "base64");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.boxKey, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(bytes.subarray(12, 28));
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
    } catch (cause) {
      throw new EsignError("E_AUTH_FAILED", "the signing authorisation cannot be read; sign again", {
        cause,
      });
    }
  }
}
