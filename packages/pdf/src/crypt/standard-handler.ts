import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { EsignError } from "@esign/errors";
import { rc4 } from "./rc4";

/** The entries of a /Standard encryption dictionary that the password algorithms read. */
export interface StandardParameters {
  /** /R: 2–4 (RC4 or AES-128, MD5-based keys) or 5–6 (AES-256, SHA-2-based keys). */
  revision: number;
  /** File key length in bytes. */
  keyLength: number;
  /** /O and /U: the owner and user password checks. */
  owner: Uint8Array;
  user: Uint8Array;
  /** /OE and /UE (R5–R6): the file key encrypted under each password. */
  ownerEncryptedKey: Uint8Array | undefined;
  userEncryptedKey: Uint8Array | undefined;
  /** /P as a signed 32-bit integer. */
  permissions: number;
  encryptMetadata: boolean;
  /** First element of the trailer /ID (R2–R4 keys depend on it). */
  firstId: Uint8Array;
}

/** Which password opened the document: the owner password lifts the /P restrictions. */
export type PasswordAccess = "owner" | "user";

export interface Authenticated {
  fileKey: Uint8Array;
  access: PasswordAccess;
}

/**
 * Tries `password` as the owner password, then as the user password; undefined when it is
 * neither. Owner first, so a password that happens to be both grants owner access.
 */
export function authenticate(params: StandardParameters, password: string): Authenticated | undefined {
  return params.revision >= 5 ? authenticateAes256(params, password) : authenticateMd5(params, password);
}

// ISO 32000-2 7.6.4.3: the 32 bytes every R2–R4 password is padded (or replaced) with.
const PASSWORD_PADDING = Buffer.from(
  "28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a",
  "hex",
);

function authenticateMd5(params: StandardParameters, password: string): Authenticated | undefined {
  // R2–R4 passwords are PDFDocEncoding, which agrees with Latin-1 on the characters people type.
  const latin1 = [...password].every((char) => char.codePointAt(0)! <= 0xff);
  const bytes = Buffer.from(password, latin1 ? "latin1" : "utf8");
  const asOwner = md5FileKey(params, userPasswordFromOwner(params, bytes));
  if (md5UserPasswordMatches(params, asOwner)) return { fileKey: asOwner, access: "owner" };
  const asUser = md5FileKey(params, bytes);
  if (md5UserPasswordMatches(params, asUser)) return { fileKey: asUser, access: "user" };
  return undefined;
}

function padded(password: Uint8Array): Buffer {
  return Buffer.concat([password.subarray(0, 32), PASSWORD_PADDING]).subarray(0, 32);
}

function md5(...parts: Uint8Array[]): Buffer {
  const hash = createHash("md5");
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function md5KeyLength(params: StandardParameters): number {
  return params.revision === 2 ? 5 : params.keyLength;
}

/** Algorithm 2: the file key from a user password. */
function md5FileKey(params: StandardParameters, userPassword: Uint8Array): Buffer {
  const permissions = Buffer.alloc(4);
  permissions.writeInt32LE(params.permissions);
  const parts = [padded(userPassword), params.owner.subarray(0, 32), permissions, params.firstId];
  if (params.revision >= 4 && !params.encryptMetadata) parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  const length = md5KeyLength(params);
  let key = md5(...parts);
  if (params.revision >= 3) for (let i = 0; i < 50; i++) key = md5(key.subarray(0, length));
  return key.subarray(0, length);
}

/** RC4 with the key XOR-ed with `round`, as algorithms 5 and 7 iterate it. */
function rc4Round(key: Uint8Array, round: number, data: Uint8Array): Uint8Array {
  return rc4(
    key.map((byte) => byte ^ round),
    data,
  );
}

/** Algorithms 4 and 5: does the file key reproduce /U? */
function md5UserPasswordMatches(params: StandardParameters, fileKey: Uint8Array): boolean {
  if (params.revision === 2)
    return Buffer.from(rc4(fileKey, PASSWORD_PADDING)).equals(params.user.subarray(0, 32));
  let value = rc4(fileKey, md5(PASSWORD_PADDING, params.firstId));
  for (let round = 1; round <= 19; round++) value = rc4Round(fileKey, round, value);
  return Buffer.from(value).equals(params.user.subarray(0, 16));
}

/** Algorithm 7: /O decrypted with a key made from the owner password is the (padded) user password. */
function userPasswordFromOwner(params: StandardParameters, ownerPassword: Uint8Array): Uint8Array {
  const length = md5KeyLength(params);
  let hash = md5(padded(ownerPassword));
  if (params.revision >= 3) for (let i = 0; i < 50; i++) hash = md5(hash);
  const key = hash.subarray(0, length);
  if (params.revision === 2) return rc4(key, params.owner.subarray(0, 32));
  let value: Uint8Array = params.owner.subarray(0, 32);
  for (let round = 19; round >= 0; round--) value = rc4Round(key, round, value);
  return value;
}

/** Algorithm 2.A: R5–R6 owner, then user; the file key is /OE or /UE decrypted with the password hash. */
function authenticateAes256(params: StandardParameters, password: string): Authenticated | undefined {
  // UTF-8 of the SASLprep-ed password, at most 127 bytes; NFKC is SASLprep's normalisation step.
  const bytes = Buffer.from(password.normalize("NFKC"), "utf8").subarray(0, 127);
  const userData = params.user.subarray(0, 48);
  const owner = params.owner;
  const user = params.user;
  if (hash2B(params.revision, bytes, owner.subarray(32, 40), userData).equals(owner.subarray(0, 32))) {
    const key = hash2B(params.revision, bytes, owner.subarray(40, 48), userData);
    return { fileKey: unwrapFileKey(key, params.ownerEncryptedKey), access: "owner" };
  }
  const none = new Uint8Array(0);
  if (hash2B(params.revision, bytes, user.subarray(32, 40), none).equals(user.subarray(0, 32))) {
    const key = hash2B(params.revision, bytes, user.subarray(40, 48), none);
    return { fileKey: unwrapFileKey(key, params.userEncryptedKey), access: "user" };
  }
  return undefined;
}

function unwrapFileKey(key: Uint8Array, encrypted: Uint8Array | undefined): Uint8Array {
  const wrapped = (encrypted ?? new Uint8Array(0)).subarray(0, 32);
  if (wrapped.length !== 32) {
    throw new EsignError("E_PDF_CORRUPT", "invalid encryption dictionary: /OE or /UE is not 32 bytes");
  }
  const decipher = createDecipheriv("aes-256-cbc", key, Buffer.alloc(16)).setAutoPadding(false);
  return Buffer.concat([decipher.update(wrapped), decipher.final()]);
}

/**
 * The R5 hash (SHA-256 of password, salt and user data) and algorithm 2.B for R6 (ISO 32000-2
 * 7.6.4.3.4): at least 64 rounds of AES-128-CBC over 64 repetitions of password, key and user
 * data, each round's hash chosen by the ciphertext, until the last byte says stop.
 */
function hash2B(revision: number, password: Uint8Array, salt: Uint8Array, userData: Uint8Array): Buffer {
  let key = createHash("sha256").update(password).update(salt).update(userData).digest();
  if (revision === 5) return key;
  for (let round = 0; ; round++) {
    const block = Buffer.concat([password, key, userData]);
    const repeated = Buffer.concat(Array(64).fill(block));
    const cipher = createCipheriv("aes-128-cbc", key.subarray(0, 16), key.subarray(16, 32)).setAutoPadding(
      false,
    );
    const encrypted = Buffer.concat([cipher.update(repeated), cipher.final()]);
    // The first 16 bytes as a big-endian number mod 3 equal the sum of the bytes mod 3 (256 ≡ 1).
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += encrypted[i]!;
    key = createHash(["sha256", "sha384", "sha512"][sum % 3]!)
      .update(encrypted)
      .digest();
    if (round >= 63 && encrypted[encrypted.length - 1]! <= round - 31) break;
  }
  return key.subarray(0, 32);
}
