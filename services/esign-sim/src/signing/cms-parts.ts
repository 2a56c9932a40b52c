import { createHash, sign } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { OID } from "../oids";
import type { PkiEntity } from "../pki";

/** Parses a certificate into pkijs form, which the CMS/OCSP/TSA structures embed. */
export function pkijsCertificate(entity: PkiEntity): pkijs.Certificate {
  return pkijs.Certificate.fromBER(entity.der);
}

export function algorithm(oid: string, withNullParameters = false): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({
    algorithmId: oid,
    ...(withNullParameters ? { algorithmParams: new asn1js.Null() } : {}),
  });
}

/** sha256WithRSAEncryption, the signature algorithm of every structure the simulator's own RSA keys sign. */
export function sha256WithRsa(): pkijs.AlgorithmIdentifier {
  return algorithm(OID.sha256WithRsa, true);
}

/** RSA PKCS#1 v1.5 SHA-256 signature with one of the simulator's RSA keys (TSA, OCSP responder, CAs). */
export function signWithEntity(entity: PkiEntity, data: ArrayBuffer | Uint8Array): Buffer {
  return sign("sha256", new Uint8Array(data), entity.key.privateKey);
}

export function attribute(type: string, value: asn1js.AsnType): pkijs.Attribute {
  return new pkijs.Attribute({ type, values: [value] });
}

/**
 * signing-certificate-v2 (RFC 5035) naming `entity`'s certificate: ESSCertIDv2 with the SHA-256
 * certificate hash (hashAlgorithm omitted: SHA-256 is the DEFAULT) and issuerSerial.
 */
export function signingCertificateV2(entity: PkiEntity): pkijs.Attribute {
  const certificate = pkijsCertificate(entity);
  const issuerSerial = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({
        value: [
          new asn1js.Constructed({
            idBlock: { tagClass: 3, tagNumber: 4 },
            value: [certificate.issuer.toSchema()],
          }),
        ],
      }),
      certificate.serialNumber,
    ],
  });
  const essCertIdV2 = new asn1js.Sequence({
    value: [
      new asn1js.OctetString({ valueHex: createHash("sha256").update(entity.der).digest() }),
      issuerSerial,
    ],
  });
  const signingCertificate = new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertIdV2] })] });
  return attribute(OID.signingCertificateV2Attr, signingCertificate);
}

/**
 * Signed attributes in DER order. SET OF must be sorted by encoding; verifiers such as OpenSSL
 * re-encode the set before checking the signature, so an unsorted set would not verify.
 */
export function sortedSignedAttributes(attributes: pkijs.Attribute[]): pkijs.SignedAndUnsignedAttributes {
  const sorted = attributes
    .map((item) => ({ item, der: Buffer.from(item.toSchema().toBER()) }))
    .sort((left, right) => Buffer.compare(left.der, right.der))
    .map(({ item }) => item);
  return new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: sorted });
}

/** The bytes a signer signs for signed attributes: their DER with the SET tag 0x31 instead of [0]. */
export function signedAttributesForSigning(attributes: pkijs.SignedAndUnsignedAttributes): Buffer {
  const encoded = Buffer.from(attributes.toSchema().toBER());
  encoded[0] = 0x31;
  return encoded;
}

export function issuerAndSerial(entity: PkiEntity): pkijs.IssuerAndSerialNumber {
  const certificate = pkijsCertificate(entity);
  return new pkijs.IssuerAndSerialNumber({
    issuer: certificate.issuer,
    serialNumber: certificate.serialNumber,
  });
}

/** A positive INTEGER from unsigned big-endian bytes (a leading zero keeps the sign bit clear). */
export function positiveInteger(bytes: Buffer): asn1js.Integer {
  const value = bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  return new asn1js.Integer({ valueHex: value });
}
