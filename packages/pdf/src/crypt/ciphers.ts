import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { rc4 } from "./rc4";

/** A crypt filter method (ISO 32000-2 table 27 /CFM): none, RC4, AES-128-CBC or AES-256-CBC. */
export type CryptMethod = "None" | "V2" | "AESV2" | "AESV3";

const AES_BLOCK = 16;

/**
 * The key for one object's strings and streams (algorithm 1): the file key salted with the
 * object number and generation (and "sAlT" for AES-128); AES-256 uses the file key as it is.
 */
export function objectKey(fileKey: Uint8Array, method: CryptMethod, num: number, gen: number): Uint8Array {
  if (method === "AESV3") return fileKey;
  const salt = Buffer.from([
    num & 0xff,
    (num >> 8) & 0xff,
    (num >> 16) & 0xff,
    gen & 0xff,
    (gen >> 8) & 0xff,
  ]);
  const hash = createHash("md5").update(fileKey).update(salt);
  if (method === "AESV2") hash.update("sAlT", "latin1");
  return hash.digest().subarray(0, Math.min(fileKey.length + 5, 16));
}

export function encryptBytes(method: CryptMethod, key: Uint8Array, data: Uint8Array): Uint8Array {
  if (method === "None") return data;
  if (method === "V2") return rc4(key, data);
  // A fresh random IV per string or stream, written in front of the ciphertext (PKCS#7 padded).
  const iv = randomBytes(AES_BLOCK);
  const cipher = createCipheriv(aesName(key), key, iv);
  return Buffer.concat([iv, cipher.update(data), cipher.final()]);
}

/**
 * Lenient on AES input, as viewers are: a string shorter than the IV decrypts to nothing, a
 * ragged tail is dropped, and padding that is not valid PKCS#7 is left in place.
 */
export function decryptBytes(method: CryptMethod, key: Uint8Array, data: Uint8Array): Uint8Array {
  if (method === "None") return data;
  if (method === "V2") return rc4(key, data);
  const bodyLength = Math.floor((data.length - AES_BLOCK) / AES_BLOCK) * AES_BLOCK;
  if (bodyLength <= 0) return new Uint8Array(0);
  const decipher = createDecipheriv(aesName(key), key, data.subarray(0, AES_BLOCK)).setAutoPadding(false);
  const plain = Buffer.concat([
    decipher.update(data.subarray(AES_BLOCK, AES_BLOCK + bodyLength)),
    decipher.final(),
  ]);
  const pad = plain[plain.length - 1]!;
  const validPadding =
    pad >= 1 && pad <= AES_BLOCK && plain.subarray(plain.length - pad).every((byte) => byte === pad);
  return validPadding ? plain.subarray(0, plain.length - pad) : plain;
}

function aesName(key: Uint8Array): string {
  return key.length === 32 ? "aes-256-cbc" : "aes-128-cbc";
}
