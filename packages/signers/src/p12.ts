import { readFile } from "node:fs/promises";
import { EsignError } from "@esign/errors";
import {
  digestAlgorithmOf,
  hash,
  type LoadCredentialsOptions,
  type LocalCredentials,
  type LocalCredentialsSource,
  loadLocalCredentials,
  signData,
} from "@esign/pades";
import { CmsBuildingSigner } from "./cms-building-signer";
import type { RawSignatureProvider, RawSignatures, SignerDescription, Timestamper } from "./types";

/** A private key held in this process (from PKCS#12 or PEM), signing with node:crypto. */
export class LocalKeyProvider implements RawSignatureProvider {
  constructor(private readonly credentials: LocalCredentials) {}

  async describe(): Promise<SignerDescription> {
    const { certificate, chain, signatureAlgorithm } = this.credentials;
    return { certificate, chain, signatureAlgorithm };
  }

  async signHashes(hashes: Uint8Array[], toBeSigned: Uint8Array[]): Promise<RawSignatures> {
    const { privateKey, signatureAlgorithm } = this.credentials;
    const digestAlgorithm = digestAlgorithmOf(signatureAlgorithm);
    const signatures = hashes.map((expected, index) => {
      const message = toBeSigned[index];
      // node:crypto hashes the message itself; make sure it is the message the caller hashed.
      if (!message || Buffer.compare(hash(digestAlgorithm, message), expected) !== 0) {
        throw new EsignError(
          "E_INTERNAL",
          `hash ${index + 1} is not the ${digestAlgorithm} of the data to be signed`,
        );
      }
      return signData(privateKey, signatureAlgorithm, message);
    });
    return { signatures };
  }
}

export interface P12SignerOptions extends LoadCredentialsOptions {
  /** Key material: a PKCS#12 file path or bytes with its password, or PEM key + certificates. */
  credentials: LocalCredentialsSource | { p12Path: string; password: string };
  timestamper?: Timestamper;
}

/** The `p12` backend: a local PKCS#12 (or PEM) key behind the generic CMS-building signer. */
export async function createP12Signer(options: P12SignerOptions): Promise<CmsBuildingSigner> {
  const source =
    "p12Path" in options.credentials
      ? { p12: await readP12(options.credentials.p12Path), password: options.credentials.password }
      : options.credentials;
  const credentials = loadLocalCredentials(source, { signatureAlgorithm: options.signatureAlgorithm });
  return new CmsBuildingSigner({
    provider: new LocalKeyProvider(credentials),
    timestamper: options.timestamper,
  });
}

async function readP12(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new EsignError("E_CONFIG", `cannot read PKCS#12 file ${path}`, { cause });
  }
}
