import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import forge from "node-forge";
import { type SignatureAlgorithm, signatureAlgorithmsForKey } from "./algorithms";
import { bytesEqual } from "./certificate";

export interface LocalCredentials {
  privateKey: KeyObject;
  /** The certificate whose public key matches `privateKey`, DER. */
  certificate: Uint8Array;
  /** The other certificates, issuers first in path order (nearest issuer first), DER. */
  chain: Uint8Array[];
  signatureAlgorithm: SignatureAlgorithm;
}

export type LocalCredentialsSource =
  | { p12: Uint8Array; password: string }
  | { keyPem: string; certPem: string; chainPem?: string; password?: string };

export interface LoadCredentialsOptions {
  /** Defaults to the key's natural algorithm: RSA PKCS#1 v1.5 SHA-256, ECDSA with the curve's hash. */
  signatureAlgorithm?: SignatureAlgorithm;
}

interface KeyAndCertificates {
  privateKey: KeyObject;
  certificates: Uint8Array[];
}

function forgeDer(asn1: forge.asn1.Asn1): Uint8Array {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
}

/**
 * forge turns the RSA keys and certificates it understands into its own objects, and writing
 * those back re-encodes them: a certificate could change bytes (and no longer verify), and an
 * RSA-PSS key would come back as a plain RSA key. Making its two parsers decline, only for the
 * duration of this synchronous call, leaves every bag as the ASN.1 that was in the file.
 */
function withBagsKeptAsAsn1<T>(run: () => T): T {
  const { certificateFromAsn1, privateKeyFromAsn1 } = forge.pki;
  const decline = (): never => {
    throw new Error("kept as ASN.1");
  };
  forge.pki.certificateFromAsn1 = decline;
  forge.pki.privateKeyFromAsn1 = decline;
  try {
    return run();
  } finally {
    forge.pki.certificateFromAsn1 = certificateFromAsn1;
    forge.pki.privateKeyFromAsn1 = privateKeyFromAsn1;
  }
}

function bagsOfType(container: forge.pkcs12.Pkcs12Pfx, bagType: string): forge.pkcs12.Bag[] {
  return container.getBags({ bagType })[bagType] ?? [];
}

/**
 * PKCS#12 through node-forge: node:crypto cannot read PKCS#12, and forge also decrypts the
 * legacy 3DES / RC2-40 files that many CAs still hand out. Keys and certificates go to
 * node:crypto as the DER found in the file.
 */
function readPkcs12(p12: Uint8Array, password: string): KeyAndCertificates {
  let container: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(p12).toString("binary")));
    container = withBagsKeptAsAsn1(() => forge.pkcs12.pkcs12FromAsn1(asn1, false, password));
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new EsignError("E_KEY", `cannot open PKCS#12 (wrong password or damaged file): ${reason}`, {
      cause,
    });
  }
  const keyBags = [
    ...bagsOfType(container, forge.pki.oids.pkcs8ShroudedKeyBag!),
    ...bagsOfType(container, forge.pki.oids.keyBag!),
  ];
  const [keyBag, ...otherKeys] = keyBags;
  if (!keyBag?.asn1) throw new EsignError("E_KEY", "PKCS#12 contains no private key");
  if (otherKeys.length > 0) {
    throw new EsignError("E_KEY", `PKCS#12 contains ${keyBags.length} private keys, expected one`);
  }
  const certificates = bagsOfType(container, forge.pki.oids.certBag!)
    .filter((bag) => bag.asn1 !== undefined)
    .map((bag) => forgeDer(bag.asn1 as forge.asn1.Asn1));
  try {
    const privateKey = createPrivateKey({
      key: Buffer.from(forgeDer(keyBag.asn1 as forge.asn1.Asn1)),
      format: "der",
      type: "pkcs8",
    });
    return { privateKey, certificates };
  } catch (cause) {
    throw new EsignError("E_KEY", "the PKCS#12 private key is not a key node:crypto can use", { cause });
  }
}

/** Every certificate in a PEM text (bundles hold several), as DER. */
export function certificatesFromPem(pem: string): Uint8Array[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => {
    try {
      return new Uint8Array(new X509Certificate(block).raw);
    } catch (cause) {
      throw new EsignError("E_CERT", "unreadable certificate in PEM", { cause });
    }
  });
}

function readPem(source: {
  keyPem: string;
  certPem: string;
  chainPem?: string;
  password?: string;
}): KeyAndCertificates {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: source.keyPem, format: "pem", passphrase: source.password });
  } catch (cause) {
    throw new EsignError("E_KEY", "cannot read the private key PEM (wrong password or not a private key)", {
      cause,
    });
  }
  return {
    privateKey,
    certificates: [...certificatesFromPem(source.certPem), ...certificatesFromPem(source.chainPem ?? "")],
  };
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}

/** Issuers of `certificate` among `others`, nearest first; certificates not on the path follow. */
function orderChain(certificate: Uint8Array, others: Uint8Array[]): Uint8Array[] {
  const remaining = others.map((der) => ({ der, x509: new X509Certificate(der) }));
  const path: Uint8Array[] = [];
  let current = new X509Certificate(certificate);
  for (;;) {
    const index = remaining.findIndex((candidate) => current.checkIssued(candidate.x509));
    if (index < 0 || current.checkIssued(current)) break;
    const [issuer] = remaining.splice(index, 1);
    path.push(issuer!.der);
    current = issuer!.x509;
  }
  return [...path, ...remaining.map((candidate) => candidate.der)];
}

export function loadLocalCredentials(
  source: LocalCredentialsSource,
  options: LoadCredentialsOptions = {},
): LocalCredentials {
  const { privateKey, certificates } =
    "p12" in source ? readPkcs12(source.p12, source.password) : readPem(source);
  const keySpki = spki(createPublicKey(privateKey));
  const unique = certificates.filter(
    (der, i) => certificates.findIndex((other) => bytesEqual(other, der)) === i,
  );
  const certificate = unique.find((der) => spki(new X509Certificate(der).publicKey).equals(keySpki));
  if (!certificate) {
    throw new EsignError(
      "E_KEY",
      unique.length === 0
        ? "no certificate was supplied with the key"
        : "no certificate matches the private key",
    );
  }
  const supported = signatureAlgorithmsForKey(privateKey);
  const signatureAlgorithm = options.signatureAlgorithm ?? supported[0]!;
  if (!supported.includes(signatureAlgorithm)) {
    throw new EsignError(
      "E_KEY",
      `a ${privateKey.asymmetricKeyType} key cannot sign with ${signatureAlgorithm}`,
    );
  }
  return {
    privateKey,
    certificate,
    chain: orderChain(
      certificate,
      unique.filter((der) => der !== certificate),
    ),
    signatureAlgorithm,
  };
}
