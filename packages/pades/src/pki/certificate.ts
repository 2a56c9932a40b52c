import { EsignError } from "@esign/errors";
import { children, isContextTag, parseBer, rawBytes } from "../asn1/read";

/** The issuer Name and serialNumber INTEGER of a certificate, as their original DER. */
export interface CertificateIdentity {
  issuer: Uint8Array;
  serialNumber: Uint8Array;
}

/** Every CMS of a signer repeats its identity: parse each certificate object once. */
const identities = new WeakMap<Uint8Array, CertificateIdentity>();

export function certificateIdentity(certificate: Uint8Array): CertificateIdentity {
  let identity = identities.get(certificate);
  if (!identity) {
    identity = parseIdentity(certificate);
    identities.set(certificate, identity);
  }
  return identity;
}

function parseIdentity(certificate: Uint8Array): CertificateIdentity {
  const tbsFields = children(children(parseBer(certificate, "certificate", "E_CERT"))[0]!);
  // TBSCertificate: version [0] EXPLICIT is optional (absent for v1 certificates).
  const first = tbsFields[0] && isContextTag(tbsFields[0], 0) ? 1 : 0;
  const serial = tbsFields[first];
  const issuer = tbsFields[first + 2];
  if (!serial || !issuer) throw new EsignError("E_CERT", "certificate has no issuer or serial number");
  return { issuer: rawBytes(issuer), serialNumber: rawBytes(serial) };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
