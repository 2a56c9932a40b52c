import { createPrivateKey, createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 signs certificates and CRLs through WebCrypto; Node's is complete.
x509.cryptoProvider.set(globalThis.crypto);

type CryptoKey = webcrypto.CryptoKey;
type SigningAlgorithm = webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;

export type KeySpec = { type: "RSA"; bits: 2048 | 3072 } | { type: "EC"; curve: "P-256" };

/**
 * One key pair in both shapes the simulator needs: WebCrypto keys to issue certificates and
 * CRLs with @peculiar/x509, node:crypto key objects for the raw hash signatures of the services.
 */
export interface KeyMaterial {
  spec: KeySpec;
  privateKey: KeyObject;
  publicKey: KeyObject;
  signingKey: CryptoKey;
  publicCryptoKey: CryptoKey;
  /** Certificate/CRL signature algorithm this key signs with (always SHA-256). */
  signingAlgorithm: SigningAlgorithm;
}

function webCryptoAlgorithm(spec: KeySpec): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  return spec.type === "RSA"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: spec.curve };
}

function signingAlgorithm(spec: KeySpec): SigningAlgorithm {
  return spec.type === "RSA"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    : { name: "ECDSA", hash: "SHA-256" };
}

export async function generateKey(spec: KeySpec): Promise<KeyMaterial> {
  const algorithm =
    spec.type === "RSA"
      ? {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: spec.bits,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        }
      : { name: "ECDSA", namedCurve: spec.curve };
  const pair = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", pair.privateKey));
  return importKey(spec, exportPem(pkcs8));
}

function exportPem(pkcs8: Buffer): string {
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

export function privateKeyPem(key: KeyMaterial): string {
  return key.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

export async function importKey(spec: KeySpec, pkcs8Pem: string): Promise<KeyMaterial> {
  const privateKey = createPrivateKey(pkcs8Pem);
  const publicKey = createPublicKey(privateKey);
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
  const spki = publicKey.export({ format: "der", type: "spki" });
  const algorithm = webCryptoAlgorithm(spec);
  return {
    spec,
    privateKey,
    publicKey,
    signingKey: await webcrypto.subtle.importKey("pkcs8", pkcs8, algorithm, false, ["sign"]),
    publicCryptoKey: await webcrypto.subtle.importKey("spki", spki, algorithm, true, ["verify"]),
    signingAlgorithm: signingAlgorithm(spec),
  };
}
