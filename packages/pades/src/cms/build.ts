import { EsignError } from "@esign/errors";
import {
  explicit,
  octetString,
  oid,
  type Part,
  pending,
  retag,
  sequence,
  setOf,
  setOrder,
  TAG,
  unsignedInteger,
  write,
} from "../asn1/der";
import { OID } from "../asn1/oids";
import {
  type DigestAlgorithm,
  digestAlgorithmIdentifier,
  digestAlgorithmOf,
  digestLength,
  hash,
  type SignatureAlgorithm,
  signatureAlgorithmIdentifier,
} from "../pki/algorithms";
import { bytesEqual, cachedByContent, certificateIdentity } from "../pki/certificate";

export interface SignedAttributesInput {
  /** Digest of the document's byte range, computed with `digestAlgorithm`. */
  documentDigest: Uint8Array;
  signerCertificate: Uint8Array;
  /** Must be the digest of the signature algorithm that will sign these attributes. Default sha256. */
  digestAlgorithm?: DigestAlgorithm;
}

/** One CMS Attribute: a type and its SET OF values, each value given as DER. */
export interface CmsAttribute {
  type: string;
  values: Uint8Array[];
}

function encodeAttribute({ type, values }: CmsAttribute): Uint8Array {
  return sequence(oid(type), setOf(...values));
}

/**
 * The signing-certificate-v2 attribute per digest algorithm, built once per certificate: it is the
 * same in every signature of a signer, only the message digest changes.
 */
const signingCertificateAttributes: Record<DigestAlgorithm, (certificate: Uint8Array) => Uint8Array> = {
  sha256: signingCertificateAttribute("sha256"),
  sha384: signingCertificateAttribute("sha384"),
  sha512: signingCertificateAttribute("sha512"),
};

function signingCertificateAttribute(digestAlgorithm: DigestAlgorithm) {
  return cachedByContent((certificate) =>
    encodeAttribute({
      type: OID.signingCertificateV2,
      values: [signingCertificateV2(certificate, digestAlgorithm)],
    }),
  );
}

/** SigningCertificateV2 (RFC 5035) naming the signer certificate by hash and issuer/serial. */
function signingCertificateV2(certificate: Uint8Array, digestAlgorithm: DigestAlgorithm): Uint8Array {
  const { issuer, serialNumber } = certificateIdentity(certificate);
  // GeneralNames with one directoryName ([4] EXPLICIT Name).
  const issuerSerial = sequence(sequence(explicit(4, issuer)), serialNumber);
  const certHash = octetString(hash(digestAlgorithm, certificate));
  // hashAlgorithm DEFAULT sha256: DER forbids encoding a default value.
  const essCertIdV2 =
    digestAlgorithm === "sha256"
      ? sequence(certHash, issuerSerial)
      : sequence(digestAlgorithmIdentifier(digestAlgorithm), certHash, issuerSerial);
  return sequence(sequence(essCertIdV2));
}

/**
 * The PAdES B-B signed attributes as the DER SET (tag 0x31) that is hashed and signed:
 * content-type, message-digest and signing-certificate-v2, and deliberately no signing-time
 * (PAdES baseline carries the claimed time in the signature dictionary's /M).
 */
export function buildSignedAttributes(input: SignedAttributesInput): Uint8Array {
  const digestAlgorithm = input.digestAlgorithm ?? "sha256";
  if (input.documentDigest.length !== digestLength(digestAlgorithm)) {
    throw new EsignError(
      "E_CONFIG",
      `document digest is ${input.documentDigest.length} bytes, ${digestAlgorithm} needs ${digestLength(digestAlgorithm)}`,
    );
  }
  return setOf(
    encodeAttribute({ type: OID.contentType, values: [oid(OID.data)] }),
    encodeAttribute({ type: OID.messageDigest, values: [octetString(input.documentDigest)] }),
    signingCertificateAttributes[digestAlgorithm](input.signerCertificate),
  );
}

export interface AssembleCmsInput {
  /** Exactly the bytes returned by buildSignedAttributes (the 0x31 SET) that were signed. */
  signedAttributes: Uint8Array;
  /** The signature value; ECDSA as DER SEQUENCE { r, s }. */
  signature: Uint8Array;
  signatureAlgorithm: SignatureAlgorithm;
  signerCertificate: Uint8Array;
  /** Chain certificates (the signer certificate may be repeated here; duplicates are dropped). */
  certificates: Uint8Array[];
  unsignedAttributes?: CmsAttribute[];
}

export function encodeUnsignedAttributes(attributes: CmsAttribute[]): Uint8Array {
  // [1] IMPLICIT SET OF Attribute.
  return retag(setOf(...attributes.map(encodeAttribute)), 0xa1);
}

function uniqueCertificates(certificates: Uint8Array[]): Uint8Array[] {
  return certificates.filter(
    (cert, index) => certificates.findIndex((other) => bytesEqual(other, cert)) === index,
  );
}

/** ContentInfo { id-signedData, [0] SignedData } around a detached id-data SignedData. */
export function encodeContentInfo(signedDataFields: Part[]): Uint8Array {
  return write(
    pending(TAG.SEQUENCE, oid(OID.signedData), pending(0xa0, pending(TAG.SEQUENCE, ...signedDataFields))),
  );
}

/** Builds the detached CMS SignedData (ContentInfo, DER) for one signer. */
export function assembleCms(input: AssembleCmsInput): Uint8Array {
  if (input.signedAttributes[0] !== TAG.SET) {
    throw new EsignError("E_CONFIG", "signedAttributes must be the DER SET (0x31) that was signed");
  }
  const digestId = digestAlgorithmIdentifier(digestAlgorithmOf(input.signatureAlgorithm));
  const { issuer, serialNumber } = certificateIdentity(input.signerCertificate);
  const signerInfoFields = [
    unsignedInteger(1),
    sequence(issuer, serialNumber),
    digestId,
    retag(input.signedAttributes, 0xa0),
    signatureAlgorithmIdentifier(input.signatureAlgorithm),
    octetString(input.signature),
  ];
  if (input.unsignedAttributes?.length)
    signerInfoFields.push(encodeUnsignedAttributes(input.unsignedAttributes));

  const certificates = uniqueCertificates([input.signerCertificate, ...input.certificates]);
  return encodeContentInfo([
    unsignedInteger(1),
    setOf(digestId),
    sequence(oid(OID.data)),
    pending(0xa0, ...setOrder(certificates)), // [0] IMPLICIT SET OF
    pending(TAG.SET, pending(TAG.SEQUENCE, ...signerInfoFields)), // SET OF one SignerInfo
  ]);
}
