import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import * as x509 from "@peculiar/x509";
import { children, isContextTag, octetsOf, oidOf, parseBer, rawBytes } from "../asn1/read";

/** Distinct certificates kept parsed: a worker sees a handful (its signers, their chains, TSAs). */
const CACHE_SIZE = 64;

/**
 * `parse`, run once per distinct certificate content (the most recent CACHE_SIZE kept): every CMS
 * of a signer carries the same certificates in fresh buffers, and parsing one costs more than
 * signing. An entry keeps its own copy of the bytes and is found by length and last bytes (the
 * issuer's signature, which differs between certificates), then compared in full, so a cached
 * result always describes exactly the bytes asked about. The arrays asked about last are
 * remembered too: that saves the lookup, not the comparison (a Uint8Array can be changed).
 */
export function cachedByContent<T>(parse: (der: Uint8Array) => T): (der: Uint8Array) => T {
  const cache = new Map<number, { der: Uint8Array; value: T }>();
  const recent: { asked: Uint8Array; der: Uint8Array; value: T }[] = [];
  return (der) => {
    for (const entry of recent) {
      if (entry.asked === der && bytesEqual(entry.der, der)) return entry.value;
    }
    const key = lookupKey(der);
    let entry = cache.get(key);
    if (!entry || !bytesEqual(entry.der, der)) {
      entry = { der: der.slice(), value: parse(der) };
      cache.delete(key);
      if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(key, entry);
    }
    // Not a view into a large buffer (a whole document): remembering it would keep that alive.
    if (der.buffer.byteLength <= RECENT_BUFFER_LIMIT) {
      recent.unshift({ asked: der, ...entry });
      if (recent.length > RECENT_SIZE) recent.pop();
    }
    return entry.value;
  };
}

/** How many arrays asked about are remembered: a CMS's certificates and a trust root or two. */
const RECENT_SIZE = 6;
const RECENT_BUFFER_LIMIT = 64 * 1024;

/** The length and the last four bytes, as one number (keys may collide: entries are compared in full). */
function lookupKey(der: Uint8Array): number {
  const end = der.length;
  const tail =
    end >= 4
      ? ((der[end - 4]! << 24) | (der[end - 3]! << 16) | (der[end - 2]! << 8) | der[end - 1]!) >>> 0
      : 0;
  return end * 2 ** 32 + tail;
}

/** The issuer Name and serialNumber INTEGER of a certificate, as their original DER. */
export interface CertificateIdentity {
  issuer: Uint8Array;
  serialNumber: Uint8Array;
}

/** The fields of a certificate our checks read, each as it was encoded. */
export interface CertificateFields extends CertificateIdentity {
  /** The subject Name, DER. */
  subject: Uint8Array;
  /** The subjectPublicKey BIT STRING's bits: what an OCSP CertID's issuerKeyHash hashes. */
  publicKeyBits: Uint8Array;
  /** extnID → extnValue (the DER inside the OCTET STRING). */
  extensions: Map<string, Uint8Array>;
  /** OID of the algorithm the issuer signed the certificate with. */
  signatureAlgorithmOid: string;
}

/** Every CMS of a signer repeats its certificates (in fresh buffers): parse each certificate once. */
export function certificateFields(certificate: Uint8Array): CertificateFields {
  return fieldsOf(certificate);
}

const fieldsOf = cachedByContent(parseFields);

export function certificateIdentity(certificate: Uint8Array): CertificateIdentity {
  return certificateFields(certificate);
}

function parseFields(certificate: Uint8Array): CertificateFields {
  const [tbs, signatureAlgorithm] = children(parseBer(certificate, "certificate", "E_CERT"));
  const tbsFields = children(tbs!);
  // TBSCertificate: version [0] EXPLICIT is optional (absent for v1 certificates), then serial,
  // signature, issuer, validity, subject, subjectPublicKeyInfo, and optional tagged fields.
  const first = tbsFields[0] && isContextTag(tbsFields[0], 0) ? 1 : 0;
  const [serial, , issuer, , subject, publicKeyInfo, ...rest] = tbsFields.slice(first);
  if (!serial || !issuer) throw new EsignError("E_CERT", "certificate has no issuer or serial number");
  if (!subject || !publicKeyInfo) throw new EsignError("E_CERT", "certificate has no subject or public key");
  const extensions = new Map<string, Uint8Array>();
  const extensionList = children(rest.find((field) => isContextTag(field, 3)))[0];
  for (const extension of children(extensionList)) {
    const parts = children(extension);
    const id = oidOf(parts[0]);
    const value = parts[parts.length - 1];
    if (id && value && parts.length >= 2) extensions.set(id, octetsOf(value));
  }
  return {
    issuer: rawBytes(issuer),
    serialNumber: rawBytes(serial),
    subject: rawBytes(subject),
    publicKeyBits: octetsOf(children(publicKeyInfo)[1] ?? publicKeyInfo),
    extensions,
    signatureAlgorithmOid: oidOf(children(signatureAlgorithm)[0]) ?? "",
  };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** `new X509Certificate(der)`, once per distinct certificate (X509Certificate is immutable). */
export const x509Of = cachedByContent((der) => new X509Certificate(der));

/** The subjectKeyIdentifier of a certificate, hex, once per distinct certificate. */
export const subjectKeyIdOf = cachedByContent(
  (der) => new x509.X509Certificate(der).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
);
