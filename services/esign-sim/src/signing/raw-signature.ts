import { constants, createHash, privateEncrypt, randomBytes } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import * as asn1js from "asn1js";
import type { KeyMaterial } from "../pki/keys";

export type HashName = "sha256" | "sha384" | "sha512";

/** How to turn a hash the client computed into a signature; the simulator never sees the data. */
export type RawSignatureScheme =
  | { kind: "rsa-pkcs1"; hash: HashName; hashOid: string }
  | { kind: "rsa-pss"; hash: HashName; saltLength: number }
  | { kind: "ecdsa" };

/** DER DigestInfo (RFC 8017 9.2): what PKCS#1 v1.5 encrypts with the private key. */
function digestInfo(hashOid: string, digest: Buffer): Buffer {
  const sequence = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: hashOid }), new asn1js.Null()] }),
      new asn1js.OctetString({ valueHex: digest }),
    ],
  });
  return Buffer.from(sequence.toBER());
}

function mgf1(hash: HashName, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * seed.length < length; counter++) {
    const counterBytes = Buffer.alloc(4);
    counterBytes.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(counterBytes).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * EMSA-PSS-ENCODE (RFC 8017 9.1.1) from the message hash. node:crypto only signs PSS over the
 * message itself, so the encoding is done here and the raw RSA operation by privateEncrypt.
 */
function pssEncode(hash: HashName, messageHash: Buffer, saltLength: number, modulusBits: number): Buffer {
  const emBits = modulusBits - 1;
  const emLength = Math.ceil(emBits / 8);
  const hashLength = messageHash.length;
  if (emLength < hashLength + saltLength + 2) throw new RangeError("PSS salt too long for this key");
  const salt = randomBytes(saltLength);
  const h = createHash(hash).update(Buffer.alloc(8)).update(messageHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLength - saltLength - hashLength - 2), Buffer.from([0x01]), salt]);
  const mask = mgf1(hash, h, db.length);
  for (let index = 0; index < db.length; index++) db[index]! ^= mask[index]!;
  db[0]! &= 0xff >> (8 * emLength - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

function rsaPrivateOperation(key: KeyMaterial, block: Buffer, padding: number): Buffer {
  return privateEncrypt({ key: key.privateKey, padding }, block);
}

function modulusBits(key: KeyMaterial): number {
  return key.privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
}

/** The EC private scalar, for noble's ECDSA that (unlike node:crypto) signs a given hash. */
function ecPrivateScalar(key: KeyMaterial): Uint8Array {
  const jwk = key.privateKey.export({ format: "jwk" });
  return Buffer.from(jwk.d!, "base64url");
}

/** Signs `digest` (already hashed by the client) with the credential key. */
export function signDigest(key: KeyMaterial, digest: Buffer, scheme: RawSignatureScheme): Buffer {
  switch (scheme.kind) {
    case "rsa-pkcs1":
      return rsaPrivateOperation(key, digestInfo(scheme.hashOid, digest), constants.RSA_PKCS1_PADDING);
    case "rsa-pss": {
      const bits = modulusBits(key);
      const encoded = pssEncode(scheme.hash, digest, scheme.saltLength, bits);
      const block = Buffer.concat([Buffer.alloc(Math.ceil(bits / 8) - encoded.length), encoded]);
      return rsaPrivateOperation(key, block, constants.RSA_NO_PADDING);
    }
    case "ecdsa":
      // DER SEQUENCE { r, s }, as X.509/CMS expect (not the raw r||s of WebCrypto).
      return Buffer.from(p256.sign(digest, ecPrivateScalar(key), { prehash: false, format: "der" }));
  }
}
