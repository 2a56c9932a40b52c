import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { EsignError } from "@esign/errors";
import { TsaClient } from "@esign/pades";
import type { DocumentTimestamper } from "@esign/pipeline";
import { readSecret } from "@esign/runtime";
import type { Signer, SignerDescription } from "@esign/signers";
import * as signers from "@esign/signers";
import { z } from "zod";
import type { SignerProfile } from "./config";
import { type LoadedSeal, loadSeals } from "./seals";

/** A configured signer with what the worker needs to know about it besides signing. */
export interface SignerEntry {
  profile: string;
  /** Backend type, the `backend` label of the signing-API metrics. */
  backend: SignerProfile["type"];
  /** Remote backends count against the signing service's quota; local keys do not. */
  remote: boolean;
  /** The service takes an Idempotency-Key on its sign calls (profile `idempotency`, remote only). */
  idempotent: boolean;
  signer: Signer;
  /** Bytes to reserve for the CMS; undefined: ask the signer's estimate. */
  contentsSize: number | undefined;
  /** Time-stamp authority for B-LTA's document time-stamp; undefined: the profile cannot do B-LTA. */
  documentTimestamper: DocumentTimestamper | undefined;
  /** B-LT/B-LTA jobs whose signer chain cannot reach "LTV enabled" fail before signing (profile `requireLtv`). */
  requireLtv: boolean;
  /** The signer's certificate and algorithm, fetched once (a remote call for remote backends). */
  describe(): Promise<SignerDescription>;
  /** Seal templates jobs of this profile may name, images read. */
  seals: Map<string, LoadedSeal>;
  /** The profile's PDF password named `secret` (a job's `pdfPassword`); E_INVALID_JOB when there is none. */
  pdfPassword(secret: string): string;
  /**
   * Personal credentials at the same signing service (CSC profiles): e-contract signers who sign
   * with their own credential, authorised with their PIN and the OTP the service sent them.
   */
  personal: PersonalCredentials | undefined;
}

export interface PersonalCredentials {
  /** credentials/sendOTP: the service sends the credential's owner a one-time password. */
  sendOtp(credentialId: string): Promise<void>;
  /** A signer for one authorisation with the owner's PIN and OTP; closed by the caller. */
  signer(credentialId: string, auth: { pin: string; otp: string }): Signer;
}

export interface SignerRegistry {
  /** The profile a job names; E_INVALID_JOB when it is not configured (the job cannot get better). */
  get(profile: string): SignerEntry;
  /** The profile if configured, without throwing. */
  find(profile: string | undefined): SignerEntry | undefined;
  entries(): SignerEntry[];
  close(): Promise<void>;
}

/** A certificate file, PEM or DER, as DER. */
async function readCertificate(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(new X509Certificate(await readFile(path)).raw);
  } catch (cause) {
    throw new EsignError("E_CONFIG", `cannot read the certificate ${path}`, { cause });
  }
}

/**
 * Remote backends live in @esign/signers under these factory names, taking the profile with its
 * secret resolved. Looked up by name so the worker runs with whichever backends the build has.
 */
const REMOTE_FACTORIES = { csc: "createCscSigner", "esign-api": "createEsignApiSigner" } as const;

type SignerFactory = (options: Record<string, unknown>) => Promise<Signer> | Signer;

/** Time-stamps for a CSC profile's signatures (B-T and up) from its B-LTA time-stamp authorities. */
function timestamperOf(profile: SignerProfile): TsaClient | undefined {
  return profile.documentTimestampUrls && new TsaClient({ urls: profile.documentTimestampUrls });
}

function personalCredentialsOf(profile: SignerProfile): PersonalCredentials | undefined {
  if (profile.type !== "csc") return undefined;
  const connection = {
    url: profile.url,
    clientId: profile.clientId,
    clientSecret: readSecret(profile.clientSecret),
  };
  const client = new signers.CscClient(connection);
  return {
    async sendOtp(credentialId) {
      await client.call("credentials/sendOTP", { credentialID: credentialId }, z.unknown());
    },
    signer: (credentialId, auth) =>
      signers.createCscSigner({ ...connection, credentialId, ...auth, timestamper: timestamperOf(profile) }),
  };
}

async function createSigner(name: string, profile: SignerProfile): Promise<Signer> {
  if (profile.type === "p12") {
    const password = readSecret(profile.password);
    return signers.createP12Signer({ credentials: { p12Path: profile.p12Path, password } });
  }
  const factoryName = REMOTE_FACTORIES[profile.type];
  const factory = (signers as unknown as Record<string, SignerFactory | undefined>)[factoryName];
  if (typeof factory !== "function") {
    throw new EsignError(
      "E_CONFIG",
      `signer profile ${name}: backend ${profile.type} is not available (@esign/signers has no ${factoryName})`,
    );
  }
  const secret =
    profile.type === "csc"
      ? {
          clientSecret: readSecret(profile.clientSecret),
          ...(profile.pin && { pin: readSecret(profile.pin) }),
        }
      : {
          apiKey: readSecret(profile.apiKey),
          ...(profile.certificatePath && { certificate: await readCertificate(profile.certificatePath) }),
        };
  const timestamper = profile.type === "csc" ? timestamperOf(profile) : undefined;
  return factory({ ...profile, ...secret, ...(timestamper && { timestamper }) });
}

/** Caches the first successful answer; a failed call (service down at start-up) is tried again next time. */
function memoizeSuccess<T>(load: () => Promise<T>): () => Promise<T> {
  let cached: Promise<T> | undefined;
  return () => {
    cached ??= load().catch((error: unknown) => {
      cached = undefined;
      throw error;
    });
    return cached;
  };
}

/** Resolved at start-up like the signer's own secrets, so a missing variable or file stops the worker. */
function pdfPasswordsOf(name: string, profile: SignerProfile): (secret: string) => string {
  const passwords = new Map<string, string>();
  for (const [secret, ref] of Object.entries(profile.pdfPasswords ?? {})) {
    passwords.set(secret, readSecret(ref));
  }
  return (secret) => {
    const password = passwords.get(secret);
    if (password === undefined) {
      throw new EsignError(
        "E_INVALID_JOB",
        `signer profile ${name} has no PDF password named ${JSON.stringify(secret)}`,
      );
    }
    return password;
  };
}

/** Builds every configured profile at start-up, so a bad profile stops the worker, not a job. */
export async function createSignerRegistry(profiles: Record<string, SignerProfile>): Promise<SignerRegistry> {
  const entries = new Map<string, SignerEntry>();
  try {
    for (const [name, profile] of Object.entries(profiles)) {
      const signer = await createSigner(name, profile);
      entries.set(name, {
        profile: name,
        backend: profile.type,
        remote: profile.type !== "p12",
        idempotent: profile.type !== "p12" && profile.idempotency,
        signer,
        contentsSize: profile.contentsSize,
        documentTimestamper: timestamperOf(profile),
        requireLtv: profile.requireLtv ?? false,
        describe: memoizeSuccess(() => signer.describe()),
        seals: await loadSeals(name, profile.seals),
        pdfPassword: pdfPasswordsOf(name, profile),
        personal: personalCredentialsOf(profile),
      });
    }
  } catch (error) {
    await Promise.allSettled([...entries.values()].map((entry) => entry.signer.close?.()));
    throw error;
  }
  return {
    find(profile) {
      return profile === undefined ? undefined : entries.get(profile);
    },
    get(profile) {
      const entry = entries.get(profile);
      if (!entry) throw new EsignError("E_INVALID_JOB", `no signer profile named ${JSON.stringify(profile)}`);
      return entry;
    },
    entries: () => [...entries.values()],
    async close() {
      await Promise.allSettled([...entries.values()].map((entry) => entry.signer.close?.()));
    },
  };
}
