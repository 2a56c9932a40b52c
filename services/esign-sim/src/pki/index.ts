import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import type { CredentialDefinition } from "../credentials";
import { REVOCATIONS_FILE } from "../revocation";
import { entityFromPem, issueCertificate, type PkiEntity } from "./certificates";
import { generateKey, importKey, type KeySpec, privateKeyPem } from "./keys";

export type { PkiEntity } from "./certificates";
export { pkiUrls } from "./certificates";

export interface Pki {
  /** The base URL written into AIA and CRL distribution points. */
  baseUrl: string;
  root: PkiEntity;
  issuing: PkiEntity;
  tsa: PkiEntity;
  ocspResponder: PkiEntity;
  /** Signer certificates by credential id. */
  credentials: ReadonlyMap<string, PkiEntity>;
}

const CA_KEY: KeySpec = { type: "RSA", bits: 2048 };
const SUBJECTS = {
  root: "CN=esign-sim Root CA, O=esign-sim Test PKI, C=DE",
  issuing: "CN=esign-sim Issuing CA, O=esign-sim Test PKI, C=DE",
  tsa: "CN=esign-sim Time-Stamping Authority, O=esign-sim Test PKI, C=DE",
  ocspResponder: "CN=esign-sim OCSP Responder, O=esign-sim Test PKI, C=DE",
};

type CredentialCertificateSpec = Pick<CredentialDefinition, "id" | "key" | "subject" | "email">;

async function issueCredential(spec: CredentialCertificateSpec, issuing: PkiEntity, baseUrl: string) {
  return issueCertificate({
    profile: "signer",
    subject: spec.subject,
    email: spec.email,
    key: await generateKey(spec.key),
    issuer: issuing,
    baseUrl,
  });
}

/** A complete fresh PKI: root, issuing CA, TSA, delegated OCSP responder and one certificate per credential. */
export async function generatePki(params: {
  baseUrl: string;
  credentials: readonly CredentialCertificateSpec[];
}): Promise<Pki> {
  const { baseUrl } = params;
  // Keys are independent of each other; generating them together uses the thread pool.
  const [rootKey, issuingKey, tsaKey, ocspKey] = await Promise.all([
    generateKey(CA_KEY),
    generateKey(CA_KEY),
    generateKey(CA_KEY),
    generateKey(CA_KEY),
  ]);
  const root = await issueCertificate({ profile: "root", subject: SUBJECTS.root, key: rootKey, baseUrl });
  const issuing = await issueCertificate({
    profile: "issuing",
    subject: SUBJECTS.issuing,
    key: issuingKey,
    issuer: root,
    baseUrl,
  });
  const [tsa, ocspResponder, ...signers] = await Promise.all([
    issueCertificate({ profile: "tsa", subject: SUBJECTS.tsa, key: tsaKey, issuer: issuing, baseUrl }),
    issueCertificate({
      profile: "ocsp",
      subject: SUBJECTS.ocspResponder,
      key: ocspKey,
      issuer: issuing,
      baseUrl,
    }),
    ...params.credentials.map((spec) => issueCredential(spec, issuing, baseUrl)),
  ]);
  const credentials = new Map(params.credentials.map((spec, index) => [spec.id, signers[index]!]));
  return { baseUrl, root, issuing, tsa: tsa!, ocspResponder: ocspResponder!, credentials };
}

interface StoredEntity {
  key: KeySpec;
  privateKey: string;
  certificate: string;
}

interface StoredPki {
  format: 1;
  baseUrl: string;
  root: StoredEntity;
  issuing: StoredEntity;
  tsa: StoredEntity;
  ocspResponder: StoredEntity;
  credentials: Record<string, StoredEntity>;
}

const PKI_FILE = "pki.json";

function storeEntity(entity: PkiEntity): StoredEntity {
  return {
    key: entity.key.spec,
    privateKey: privateKeyPem(entity.key),
    certificate: entity.certificate.toString("pem"),
  };
}

async function loadEntity(stored: StoredEntity): Promise<PkiEntity> {
  return entityFromPem(await importKey(stored.key, stored.privateKey), stored.certificate);
}

async function savePki(dir: string, pki: Pki): Promise<void> {
  const stored: StoredPki = {
    format: 1,
    baseUrl: pki.baseUrl,
    root: storeEntity(pki.root),
    issuing: storeEntity(pki.issuing),
    tsa: storeEntity(pki.tsa),
    ocspResponder: storeEntity(pki.ocspResponder),
    credentials: Object.fromEntries([...pki.credentials].map(([id, entity]) => [id, storeEntity(entity)])),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Write-then-rename: a crash mid-write must not leave a half PKI that the next start cannot read.
  const temporary = join(dir, `${PKI_FILE}.${process.pid}.tmp`);
  await writeFile(temporary, JSON.stringify(stored, null, 2), { mode: 0o600 });
  await rename(temporary, join(dir, PKI_FILE));
  await writeFile(join(dir, "root.pem"), pki.root.certificate.toString("pem"));
}

async function readStoredPki(dir: string): Promise<StoredPki | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, PKI_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new EsignError("E_CONFIG", `Cannot read the simulator PKI in ${dir}`, { cause: error });
  }
  const stored = JSON.parse(text) as StoredPki;
  if (stored.format !== 1) {
    throw new EsignError("E_CONFIG", `${join(dir, PKI_FILE)} has unknown format ${String(stored.format)}`);
  }
  return stored;
}

export type PkiLoadOutcome = "generated" | "loaded" | "regenerated-for-new-base-url" | "extended";

/**
 * Loads the PKI kept in `dir`, or generates and saves one on first start. Certificates carry the
 * base URL, so a different base URL means a new PKI (and a new trust anchor). Credentials added
 * to the configuration since the PKI was made get certificates from the existing issuing CA.
 */
export async function loadOrCreatePki(params: {
  dir: string;
  baseUrl: string;
  credentials: readonly CredentialCertificateSpec[];
}): Promise<{ pki: Pki; outcome: PkiLoadOutcome }> {
  const stored = await readStoredPki(params.dir);
  if (!stored || stored.baseUrl !== params.baseUrl) {
    const pki = await generatePki(params);
    await savePki(params.dir, pki);
    // Revocations belong to the certificates of the old PKI; its successor starts with none.
    await rm(join(params.dir, REVOCATIONS_FILE), { force: true });
    return { pki, outcome: stored ? "regenerated-for-new-base-url" : "generated" };
  }
  const [root, issuing, tsa, ocspResponder] = await Promise.all(
    [stored.root, stored.issuing, stored.tsa, stored.ocspResponder].map(loadEntity),
  );
  const credentials = new Map<string, PkiEntity>();
  let extended = false;
  for (const spec of params.credentials) {
    const existing = stored.credentials[spec.id];
    if (existing) {
      credentials.set(spec.id, await loadEntity(existing));
    } else {
      credentials.set(spec.id, await issueCredential(spec, issuing!, params.baseUrl));
      extended = true;
    }
  }
  const pki: Pki = {
    baseUrl: params.baseUrl,
    root: root!,
    issuing: issuing!,
    tsa: tsa!,
    ocspResponder: ocspResponder!,
    credentials,
  };
  if (extended) await savePki(params.dir, pki);
  return { pki, outcome: extended ? "extended" : "loaded" };
}

export function toPem(entity: PkiEntity): string {
  return entity.certificate.toString("pem");
}

/** All CA certificates, issuing first: what `/pki/chain.pem` serves. */
export function caChainPem(pki: Pki): string {
  return `${toPem(pki.issuing)}\n${toPem(pki.root)}\n`;
}
