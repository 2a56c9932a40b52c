import { execFile } from "node:child_process";
import { KeyObject, randomBytes, webcrypto } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as x509 from "@peculiar/x509";
import type { SignatureAlgorithm } from "../pki/algorithms";

/**
 * Throw-away PKI for tests: a root CA (optionally an intermediate) and end-entity certificates,
 * made in-process with WebCrypto. Not for production keys: nothing here is protected.
 */
x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

type Algorithm = webcrypto.Algorithm;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export { KeyUsageFlags } from "@peculiar/x509";

/** "rsa-1024": a key too short for today, for tests of the algorithm rules. */
export type TestKeyType = "rsa" | "rsa-1024" | "rsa-pss" | "p256" | "p384";

const KEY_ALGORITHMS: Record<TestKeyType, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams> = {
  rsa: {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: Uint8Array.of(1, 0, 1),
    hash: "SHA-256",
  },
  "rsa-1024": {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 1024,
    publicExponent: Uint8Array.of(1, 0, 1),
    hash: "SHA-256",
  },
  "rsa-pss": {
    name: "RSA-PSS",
    modulusLength: 2048,
    publicExponent: Uint8Array.of(1, 0, 1),
    hash: "SHA-256",
  },
  p256: { name: "ECDSA", namedCurve: "P-256" },
  p384: { name: "ECDSA", namedCurve: "P-384" },
};

/** How a key of each type signs certificates (WebCrypto parameters) and CMS (our algorithm name). */
const SIGNING: Record<TestKeyType, { webcrypto: Algorithm; cms: SignatureAlgorithm }> = {
  rsa: { webcrypto: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm, cms: "rsa-pkcs1-sha256" },
  "rsa-1024": {
    webcrypto: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm,
    cms: "rsa-pkcs1-sha256",
  },
  "rsa-pss": {
    webcrypto: { name: "RSA-PSS", hash: "SHA-256", saltLength: 32 } as Algorithm,
    cms: "rsa-pss-sha256",
  },
  p256: { webcrypto: { name: "ECDSA", hash: "SHA-256" } as Algorithm, cms: "ecdsa-sha256" },
  p384: { webcrypto: { name: "ECDSA", hash: "SHA-384" } as Algorithm, cms: "ecdsa-sha384" },
};

export interface TestIdentity {
  keyType: TestKeyType;
  /** DER. */
  certificate: Uint8Array;
  privateKey: KeyObject;
  /** The signature algorithm tests should use for CMS with this key. */
  signatureAlgorithm: SignatureAlgorithm;
  /** Issuers up to and including the root, nearest first (empty for a root). */
  chain: Uint8Array[];
  subject: string;
  /** Kept for issuing further certificates. */
  keys: CryptoKeyPair;
}

export interface IssueOptions {
  subject: string;
  keyType?: TestKeyType;
  /** Absent: self-signed. */
  issuer?: TestIdentity;
  ca?: boolean;
  keyUsage?: x509.KeyUsageFlags;
  /** Extended key usage OIDs, e.g. 1.3.6.1.5.5.7.3.8 for a TSA. */
  extendedKeyUsage?: { oids: string[]; critical: boolean };
  extraExtensions?: x509.Extension[];
  /** Where relying parties ask for this certificate's status (AIA id-ad-ocsp). */
  ocspUrl?: string;
  notBefore?: Date;
  notAfter?: Date;
}

const DAY = 86_400_000;

export async function issueCertificate(options: IssueOptions): Promise<TestIdentity> {
  const keyType = options.keyType ?? options.issuer?.keyType ?? "rsa";
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHMS[keyType], true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const issuer = options.issuer;
  const ca = options.ca ?? false;
  const defaultUsage = ca
    ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
    : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, undefined, true),
    new x509.KeyUsagesExtension(options.keyUsage ?? defaultUsage, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ...(issuer ? [await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)] : []),
    ...(options.extendedKeyUsage
      ? [new x509.ExtendedKeyUsageExtension(options.extendedKeyUsage.oids, options.extendedKeyUsage.critical)]
      : []),
    ...(options.ocspUrl ? [new x509.AuthorityInfoAccessExtension({ ocsp: [options.ocspUrl] })] : []),
    ...(options.extraExtensions ?? []),
  ];
  const signingKeyType = issuer?.keyType ?? keyType;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: `7${randomBytes(15).toString("hex")}`,
    subject: options.subject,
    issuer: issuer?.subject ?? options.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 3650 * DAY),
    signingAlgorithm: SIGNING[signingKeyType].webcrypto,
    publicKey: keys.publicKey,
    signingKey: (issuer?.keys ?? keys).privateKey,
    extensions,
  });
  return {
    keyType,
    certificate: new Uint8Array(certificate.rawData),
    privateKey: KeyObject.from(keys.privateKey),
    signatureAlgorithm: SIGNING[keyType].cms,
    chain: issuer ? [issuer.certificate, ...issuer.chain] : [],
    subject: options.subject,
    keys,
  };
}

export interface TestPki {
  root: TestIdentity;
  intermediate: TestIdentity | undefined;
  signer: TestIdentity;
}

/** A root CA, optionally an intermediate CA, and a document signer (digitalSignature + nonRepudiation). */
export async function createTestPki(
  options: { keyType?: TestKeyType; intermediate?: boolean; signerSubject?: string } = {},
): Promise<TestPki> {
  const keyType = options.keyType ?? "rsa";
  const root = await issueCertificate({
    subject: "CN=esign test root CA,O=esign-agent tests",
    keyType,
    ca: true,
  });
  const intermediate = options.intermediate
    ? await issueCertificate({
        subject: "CN=esign test issuing CA,O=esign-agent tests",
        issuer: root,
        ca: true,
      })
    : undefined;
  const signer = await issueCertificate({
    subject: options.signerSubject ?? "CN=Test Signer,O=esign-agent tests,C=DE",
    keyType,
    issuer: intermediate ?? root,
  });
  return { root, intermediate, signer };
}

export function toPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const base64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${base64.replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

export interface TestPkiFiles {
  rootPem: string;
  signerCertPem: string;
  signerKeyPem: string;
  /** Issuers of the signer certificate, nearest first. */
  chainPem: string;
  /** PKCS#12 with AES-256 PBES2 (OpenSSL 3 default). */
  p12: string;
  /** PKCS#12 with 3DES/RC2-40 (`-legacy`), as older tools and many CAs still issue. */
  legacyP12: string;
}

const run = promisify(execFile);

/** Writes the PKI as PEM files and two PKCS#12 files (made by openssl) protected by `password`. */
export async function writeTestPki(pki: TestPki, directory: string, password: string): Promise<TestPkiFiles> {
  await mkdir(directory, { recursive: true });
  const files: TestPkiFiles = {
    rootPem: join(directory, "root.pem"),
    signerCertPem: join(directory, "signer.pem"),
    signerKeyPem: join(directory, "signer.key.pem"),
    chainPem: join(directory, "chain.pem"),
    p12: join(directory, "signer.p12"),
    legacyP12: join(directory, "signer-legacy.p12"),
  };
  await writeFile(files.rootPem, toPem(pki.root.certificate));
  await writeFile(files.signerCertPem, toPem(pki.signer.certificate));
  await writeFile(files.signerKeyPem, pki.signer.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(files.chainPem, pki.signer.chain.map((der) => toPem(der)).join(""));
  const exportArgs = (out: string) => [
    "pkcs12",
    "-export",
    "-inkey",
    files.signerKeyPem,
    "-in",
    files.signerCertPem,
    "-certfile",
    files.chainPem,
    "-name",
    "signer",
    "-passout",
    `pass:${password}`,
    "-out",
    out,
  ];
  await run("openssl", exportArgs(files.p12));
  await run("openssl", [...exportArgs(files.legacyP12), "-legacy"]);
  return files;
}

/**
 * `identity`'s certificate issued again by `issuer` with openssl (same subject, key and
 * extensions), signed with `digest`: how tests get a certificate signed with SHA-1, which
 * WebCrypto keys made for SHA-256 cannot produce.
 */
export async function resignCertificate(
  identity: TestIdentity,
  issuer: TestIdentity,
  digest: "sha1" | "sha256",
): Promise<TestIdentity> {
  const directory = await mkdtemp(join(tmpdir(), "esign-resign-"));
  try {
    const path = (file: string) => join(directory, file);
    await writeFile(path("cert.pem"), toPem(identity.certificate));
    await writeFile(path("cert.key"), identity.privateKey.export({ type: "pkcs8", format: "pem" }));
    await writeFile(path("issuer.pem"), toPem(issuer.certificate));
    await writeFile(path("issuer.key"), issuer.privateKey.export({ type: "pkcs8", format: "pem" }));
    await run("openssl", [
      ...["x509", "-x509toreq", "-in", path("cert.pem"), "-key", path("cert.key")],
      ...["-copy_extensions", "copyall", "-out", path("request.pem")],
    ]);
    await run("openssl", [
      ...[
        "x509",
        "-req",
        "-in",
        path("request.pem"),
        "-CA",
        path("issuer.pem"),
        "-CAkey",
        path("issuer.key"),
      ],
      ...["-copy_extensions", "copyall", `-${digest}`, "-days", "3650"],
      ...["-outform", "DER", "-out", path("resigned.der")],
    ]);
    return { ...identity, certificate: new Uint8Array(await readFile(path("resigned.der"))) };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** A CRL from `issuer` revoking the given certificates (DER), valid for a week. */
export async function issueCrl(issuer: TestIdentity, revoked: Uint8Array[] = []): Promise<Uint8Array> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.subject,
    thisUpdate: new Date(Date.now() - 60_000),
    nextUpdate: new Date(Date.now() + 7 * DAY),
    signingAlgorithm: SIGNING[issuer.keyType].webcrypto,
    signingKey: issuer.keys.privateKey,
    entries: revoked.map((der) => ({
      serialNumber: new x509.X509Certificate(der).serialNumber,
      revocationDate: new Date(Date.now() - 60_000),
    })),
  });
  return new Uint8Array(crl.rawData);
}
