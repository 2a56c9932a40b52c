import { createHash, X509Certificate } from "node:crypto";
import { octetString, oid, sequence } from "../asn1/der";
import { OID } from "../asn1/oids";
import {
  type Block,
  children,
  isContextTag,
  octetsOf,
  oidOf,
  parseBer,
  rawBytes,
  smallIntegerOf,
  timeOf,
} from "../asn1/read";
import { bytesEqual, certificateFields } from "../pki/certificate";
import { isIssuedBy } from "../pki/chain";
import { isSignedBy, type SignedStructure, signedStructure } from "./signature";

export type CertificateStatus = "good" | "revoked" | "unknown";

/** An OCSP CertID: which certificate a SingleResponse is about. */
export interface CertId {
  hashAlgorithmOid: string;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** The serialNumber INTEGER as encoded. */
  serialNumber: Uint8Array;
}

export interface SingleOcspResponse {
  certId: CertId;
  status: CertificateStatus;
  revokedAt: Date | undefined;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

export interface BasicOcspResponse {
  signed: SignedStructure;
  producedAt: Date;
  responses: SingleOcspResponse[];
  /** Certificates the response carries (a delegated responder's), DER. */
  certificates: Uint8Array[];
}

export interface ParsedOcspResponse {
  /** OCSPResponseStatus; 0 is successful, the only status that carries an answer. */
  responseStatus: number;
  basic: BasicOcspResponse | undefined;
}

const CERT_ID_HASHES: Record<string, string> = {
  [OID.sha1]: "sha1",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};

const STATUSES: CertificateStatus[] = ["good", "revoked", "unknown"];

function malformed(what: string): never {
  throw new Error(`malformed OCSP response: ${what}`);
}

function parseCertId(block: Block | undefined): CertId {
  const [hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber] = children(block);
  if (!issuerNameHash || !issuerKeyHash || !serialNumber) malformed("CertID");
  return {
    hashAlgorithmOid: oidOf(children(hashAlgorithm)[0]) ?? malformed("CertID hash algorithm"),
    issuerNameHash: octetsOf(issuerNameHash),
    issuerKeyHash: octetsOf(issuerKeyHash),
    serialNumber: rawBytes(serialNumber),
  };
}

function parseSingleResponse(block: Block): SingleOcspResponse {
  // SingleResponse { certID, certStatus CHOICE { [0] good, [1] revoked, [2] unknown }, thisUpdate, [0] nextUpdate }
  const [certId, certStatus, thisUpdate, ...rest] = children(block);
  const status = certStatus?.idBlock.tagClass === 3 ? STATUSES[certStatus.idBlock.tagNumber] : undefined;
  if (!status) malformed("certStatus");
  const nextUpdate = rest.find((field) => isContextTag(field, 0));
  return {
    certId: parseCertId(certId),
    status,
    // RevokedInfo { revocationTime, [0] revocationReason }, IMPLICIT-tagged [1].
    revokedAt: status === "revoked" ? timeOf(children(certStatus)[0]) : undefined,
    thisUpdate: timeOf(thisUpdate) ?? malformed("thisUpdate"),
    nextUpdate: nextUpdate && (timeOf(children(nextUpdate)[0]) ?? malformed("nextUpdate")),
  };
}

function parseBasicResponse(block: Block): BasicOcspResponse {
  const signed = signedStructure(block) ?? malformed("BasicOCSPResponse");
  const [tbs, , , certs] = children(block);
  // ResponseData { [0] version DEFAULT v1, responderID, producedAt, responses, [1] extensions }
  const fields = children(tbs);
  const first = fields[0] && isContextTag(fields[0], 0) ? 1 : 0;
  const [, producedAt, responses] = fields.slice(first);
  return {
    signed,
    producedAt: timeOf(producedAt) ?? malformed("producedAt"),
    responses: children(responses).map(parseSingleResponse),
    certificates: certs && isContextTag(certs, 0) ? children(children(certs)[0]).map(rawBytes) : [],
  };
}

/** Parses an OCSPResponse (BER accepted); throws an Error saying what is malformed. */
export function parseOcspResponse(der: Uint8Array): ParsedOcspResponse {
  const top = parseBer(der, "OCSP response", "E_REVOCATION");
  // OCSPResponse { responseStatus ENUMERATED, [0] EXPLICIT ResponseBytes { responseType, response OCTET STRING } }
  const [status, responseBytes] = children(top);
  const responseStatus = smallIntegerOf(status) ?? malformed("responseStatus");
  if (responseStatus !== 0 || !responseBytes) return { responseStatus, basic: undefined };
  const [type, octets] = children(children(responseBytes)[0]);
  if (oidOf(type) !== OID.ocspBasic || !octets) malformed("not a basic OCSP response");
  const basic = parseBer(octetsOf(octets), "BasicOCSPResponse", "E_REVOCATION");
  return { responseStatus, basic: parseBasicResponse(basic) };
}

/**
 * The one CertID rule: with the hash algorithm the CertID names, the hash of the certificate's
 * issuer Name, the hash of the issuer's public key bits, and the serial number all match.
 */
export function certIdNames(certId: CertId, certificate: Uint8Array, issuer: Uint8Array): boolean {
  const hashName = CERT_ID_HASHES[certId.hashAlgorithmOid];
  if (!hashName) return false;
  const digest = (data: Uint8Array) => createHash(hashName).update(data).digest();
  const subject = certificateFields(certificate);
  return (
    bytesEqual(certId.serialNumber, subject.serialNumber) &&
    bytesEqual(certId.issuerNameHash, digest(subject.issuer)) &&
    bytesEqual(certId.issuerKeyHash, digest(certificateFields(issuer).publicKeyBits))
  );
}

/** An OCSPRequest for one certificate, with a SHA-1 CertID: what every responder understands (RFC 5019). */
export function ocspRequest(certificate: Uint8Array, issuer: Uint8Array): Uint8Array {
  const sha1 = (data: Uint8Array) => createHash("sha1").update(data).digest();
  const certId = sequence(
    sequence(oid(OID.sha1)),
    octetString(sha1(certificateFields(certificate).issuer)),
    octetString(sha1(certificateFields(issuer).publicKeyBits)),
    certificateFields(certificate).serialNumber,
  );
  // OCSPRequest { TBSRequest { requestList SEQUENCE OF Request { CertID } } }
  return sequence(sequence(sequence(sequence(certId))));
}

/**
 * The certificate that signed a response, if it may answer for `issuer`'s certificates (RFC 6960
 * 4.2.2.2): the CA itself, or a responder certificate the response carries that the CA issued
 * for id-kp-OCSPSigning and that was valid when the response was produced.
 */
export function authorisedResponder(basic: BasicOcspResponse, issuer: Uint8Array): Uint8Array | undefined {
  const ca = new X509Certificate(issuer);
  if (isSignedBy(basic.signed, ca.publicKey)) return issuer;
  return basic.certificates.find((candidate) => {
    const responder = new X509Certificate(candidate);
    const produced = basic.producedAt.getTime();
    return (
      isIssuedBy(responder, ca) &&
      (responder.keyUsage ?? []).includes(OID.ocspSigning) &&
      Date.parse(responder.validFrom) <= produced &&
      produced <= Date.parse(responder.validTo) &&
      isSignedBy(basic.signed, responder.publicKey)
    );
  });
}
