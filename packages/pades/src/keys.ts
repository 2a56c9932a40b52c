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
 * PKCS#12 through node-forge: node:crypto cannot read PKCS#12, and forge also reads the legacy
 * 3DES / RC2-40 files that many CAs still hand out. forge only models RSA keys and certificates,
 * so for anything else we take the raw ASN.1 it keeps and hand that to node:crypto.
 */
function readPkcs12(p12: Uint8Array, password: string): KeyAndCertificates {
  let container: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(p12).toString("binary")));
    container = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new EsignError("E_KEY", `cannot open PKCS#12 (wrong password or damaged file): ${reason}`, {
      cause,
    });
  }
  const keyBags = [
    ...(container.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[
      forge.pki.oids.pkcs8ShroudedKeyBag
    ] ?? []),
    ...(container.getBags({ bagType: forge.pki.oids.keyBag })[forge.pki.oids.keyBag] ?? []),
  ];
  const certBags = container.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? [];
  const [keyBag, ...otherKeys] = keyBags;
  if (!keyBag) throw new EsignError("E_KEY", "PKCS#12 contains no private key");
  if (otherKeys.length > 0)
    throw new EsignError("E_KEY", `PKCS#12 contains ${keyBags.length} private keys, expected one`);

  const keyInfo = keyBag.key
    ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key))
    : (keyBag.asn1 as forge.asn1.Asn1 | undefined);
  if (!keyInfo) throw new EsignError("E_KEY", "PKCS#12 key bag could not be decoded");
  const certificates = certBags.map((bag) =>
    forgeDer(bag.cert ? forge.pki.certificateToAsn1(bag.cert) : (bag.asn1 as forge.asn1.Asn1)),
  );
  return {
    privateKey: createPrivateKey({ key: Buffer.from(forgeDer(keyInfo)), format: "der", type: "pkcs8" }),
    certificates,
  };
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
