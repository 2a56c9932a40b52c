import { EsignError } from "@esign/errors";
import { retag, TAG } from "../asn1/der";
import {
  contentOf,
  copyOf,
  DER_TAG,
  type DerElement,
  elementsIn,
  isPlainDer,
  oidAt,
  wholeElement,
} from "../asn1/der-reader";
import { OID } from "../asn1/oids";
import { type Block, children, isContextTag, octetsOf, oidOf, parseBer, rawBytes } from "../asn1/read";
import type { CmsAttribute } from "./build";

export interface ParsedSignerInfo {
  /** Original encodings of the SignerInfo fields, in order (to rebuild it with new unsigned attributes). */
  fields: Uint8Array[];
  /** issuerAndSerialNumber (raw issuer Name, raw serial INTEGER), or a subjectKeyIdentifier. */
  sid: { issuer: Uint8Array; serialNumber: Uint8Array } | { subjectKeyIdentifier: Uint8Array };
  digestAlgorithmOid: string;
  /** The signed attributes re-tagged as the SET (0x31) that was hashed, or undefined when absent. */
  signedAttributesDer: Uint8Array | undefined;
  signedAttributes: CmsAttribute[];
  /** signatureAlgorithm AlgorithmIdentifier: OID and the raw parameters, if any. */
  signatureAlgorithmOid: string;
  signatureAlgorithmParameters: Uint8Array | undefined;
  signature: Uint8Array;
  unsignedAttributes: CmsAttribute[];
}

export interface ParsedCms {
  /** Original encodings of the SignedData fields, in order. */
  signedDataFields: Uint8Array[];
  encapsulatedContentType: string;
  /** eContent, when the SignedData is not detached (RFC 3161 tokens carry TSTInfo here). */
  encapsulatedContent: Uint8Array | undefined;
  certificates: Uint8Array[];
  signerInfos: ParsedSignerInfo[];
}

function fail(message: string): never {
  throw new EsignError("E_VERIFY", `CMS: ${message}`);
}

function parseAttributes(block: Block): CmsAttribute[] {
  return children(block).map((attribute) => {
    const [type, values] = children(attribute);
    const typeOid = oidOf(type) ?? fail("attribute without a type");
    return { type: typeOid, values: values ? children(values).map(rawBytes) : [] };
  });
}

function parseSignerInfo(block: Block): ParsedSignerInfo {
  const fields = children(block);
  const [, sid, digestAlgorithm] = fields;
  if (!sid || !digestAlgorithm) fail("truncated SignerInfo");
  let index = 3;
  const signedBlock = fields[index] && isContextTag(fields[index], 0) ? fields[index++] : undefined;
  const signatureAlgorithm = fields[index++] ?? fail("SignerInfo without signatureAlgorithm");
  const signature = fields[index++] ?? fail("SignerInfo without signature");
  const unsignedBlock = fields[index] && isContextTag(fields[index], 1) ? fields[index] : undefined;

  const [issuer, serialNumber] = children(sid);
  const [signatureOid, parameters] = children(signatureAlgorithm);
  return {
    fields: fields.map(rawBytes),
    sid:
      isContextTag(sid, 0) || !issuer || !serialNumber
        ? { subjectKeyIdentifier: octetsOf(sid) }
        : { issuer: rawBytes(issuer), serialNumber: rawBytes(serialNumber) },
    digestAlgorithmOid: oidOf(children(digestAlgorithm)[0]) ?? fail("bad digestAlgorithm"),
    signedAttributesDer: signedBlock ? retag(rawBytes(signedBlock), TAG.SET) : undefined,
    signedAttributes: signedBlock ? parseAttributes(signedBlock) : [],
    signatureAlgorithmOid: oidOf(signatureOid) ?? fail("bad signatureAlgorithm"),
    signatureAlgorithmParameters: parameters ? rawBytes(parameters) : undefined,
    signature: octetsOf(signature),
    unsignedAttributes: unsignedBlock ? parseAttributes(unsignedBlock) : [],
  };
}

/** Parses a ContentInfo holding SignedData (BER accepted). Throws E_VERIFY when it is not one. */
export function parseCms(bytes: Uint8Array): ParsedCms {
  return parseDerCms(bytes) ?? parseBerCms(bytes);
}

const { SEQUENCE, SET, OCTET_STRING, INTEGER, CONTEXT_0, CONTEXT_1 } = DER_TAG;

/** Context-specific [n], primitive or constructed: what `isContextTag` matches. */
const isContextNumber = (element: DerElement, tagNumber: number) => (element.tag & 0xdf) === 0x80 + tagNumber;

/**
 * `parseCms` for the common case, a DER SignedData, without asn1js: the structure is walked by tag
 * and length, the certificates are kept as their encodings (they are most of the bytes), and the
 * rest is read only when every element in it is one the full parser reads the same way
 * (`isPlainDer`). Undefined for anything else (BER, other shapes or types, truncated), which
 * `parseBerCms` then reads or refuses with its message: the result, where there is one, is the
 * full parser's.
 */
export function parseDerCms(bytes: Uint8Array): ParsedCms | undefined {
  const contentInfo = wholeElement(bytes);
  if (contentInfo?.tag !== SEQUENCE) return undefined;
  const [type, explicit, ...restOfContentInfo] = elementsIn(bytes, contentInfo) ?? [];
  if (!type || explicit?.tag !== CONTEXT_0 || oidAt(bytes, type) !== OID.signedData) return undefined;
  const [signedData, ...restOfExplicit] = elementsIn(bytes, explicit) ?? [];
  if (signedData?.tag !== SEQUENCE) return undefined;
  const fields = elementsIn(bytes, signedData);
  if (!fields || fields.length < 4) return undefined;
  const [version, digestAlgorithms, encapsulatedInfo] = fields;
  const signerInfos = fields[fields.length - 1]!;
  const optional = fields.slice(3, -1);
  const shaped =
    version!.tag === INTEGER &&
    digestAlgorithms!.tag === SET &&
    encapsulatedInfo!.tag === SEQUENCE &&
    signerInfos.tag === SET &&
    optional.every((field) => field.tag === CONTEXT_0 || field.tag === CONTEXT_1);
  if (!shaped) return undefined;
  const certificateSet = optional.find((field) => field.tag === CONTEXT_0);
  const certificates = certificateSet ? elementsIn(bytes, certificateSet) : [];
  if (!certificates) return undefined;
  // Everything but the certificates goes through the full parser's checks.
  const checked = [
    ...restOfContentInfo,
    ...restOfExplicit,
    ...fields.filter((field) => field !== certificateSet),
  ];
  if (!checked.every((element) => isPlainDer(bytes, element))) return undefined;

  const [contentType, encapsulated] = elementsIn(bytes, encapsulatedInfo!)!;
  const encapsulatedContentType = contentType && oidAt(bytes, contentType);
  if (!encapsulatedContentType) return undefined;
  let encapsulatedContent: Uint8Array | undefined;
  if (encapsulated) {
    const [octets] = encapsulated.tag === CONTEXT_0 ? elementsIn(bytes, encapsulated)! : [];
    if (octets?.tag !== OCTET_STRING) return undefined;
    encapsulatedContent = contentOf(bytes, octets);
  }
  const parsedSignerInfos: ParsedSignerInfo[] = [];
  for (const signerInfo of elementsIn(bytes, signerInfos)!) {
    const parsed = signerInfo.tag === SEQUENCE ? parseDerSignerInfo(bytes, signerInfo) : undefined;
    if (!parsed) return undefined;
    parsedSignerInfos.push(parsed);
  }
  return {
    signedDataFields: fields.map((field) => copyOf(bytes, field)),
    encapsulatedContentType,
    encapsulatedContent,
    // CertificateChoices: a plain certificate is a SEQUENCE; the others are context-tagged.
    certificates: certificates
      .filter((choice) => (choice.tag & 0xc0) === 0)
      .map((choice) => copyOf(bytes, choice)),
    signerInfos: parsedSignerInfos,
  };
}

/** `parseSignerInfo` of a SignerInfo that `isPlainDer` accepted, or undefined for another shape. */
function parseDerSignerInfo(bytes: Uint8Array, signerInfo: DerElement): ParsedSignerInfo | undefined {
  const fields = elementsIn(bytes, signerInfo)!;
  const [, sid, digestAlgorithm] = fields;
  if (!sid || digestAlgorithm?.tag !== SEQUENCE) return undefined;
  let index = 3;
  const signedBlock = fields[index] && isContextNumber(fields[index]!, 0) ? fields[index++] : undefined;
  const signatureAlgorithm = fields[index++];
  const signature = fields[index++];
  const unsignedBlock = fields[index] && isContextNumber(fields[index]!, 1) ? fields[index] : undefined;
  if (
    (signedBlock && signedBlock.tag !== CONTEXT_0) ||
    (unsignedBlock && unsignedBlock.tag !== CONTEXT_1) ||
    signatureAlgorithm?.tag !== SEQUENCE ||
    signature?.tag !== OCTET_STRING
  ) {
    return undefined;
  }
  let identifier: ParsedSignerInfo["sid"];
  const sidFields = sid.tag === SEQUENCE ? elementsIn(bytes, sid)! : [];
  if (sidFields.length >= 2) {
    identifier = { issuer: copyOf(bytes, sidFields[0]!), serialNumber: copyOf(bytes, sidFields[1]!) };
  } else if (sid.tag === DER_TAG.CONTEXT_PRIMITIVE_0) {
    identifier = { subjectKeyIdentifier: contentOf(bytes, sid) };
  } else {
    return undefined;
  }
  const [digestOid] = elementsIn(bytes, digestAlgorithm)!;
  const [signatureOid, parameters] = elementsIn(bytes, signatureAlgorithm)!;
  const digestAlgorithmOid = digestOid && oidAt(bytes, digestOid);
  const signatureAlgorithmOid = signatureOid && oidAt(bytes, signatureOid);
  const signedAttributes = signedBlock ? parseDerAttributes(bytes, signedBlock) : [];
  const unsignedAttributes = unsignedBlock ? parseDerAttributes(bytes, unsignedBlock) : [];
  if (!digestAlgorithmOid || !signatureAlgorithmOid || !signedAttributes || !unsignedAttributes) {
    return undefined;
  }
  let signedAttributesDer: Uint8Array | undefined;
  if (signedBlock) {
    signedAttributesDer = copyOf(bytes, signedBlock);
    signedAttributesDer[0] = TAG.SET;
  }
  return {
    fields: fields.map((field) => copyOf(bytes, field)),
    sid: identifier,
    digestAlgorithmOid,
    signedAttributesDer,
    signedAttributes,
    signatureAlgorithmOid,
    signatureAlgorithmParameters: parameters && copyOf(bytes, parameters),
    signature: contentOf(bytes, signature),
    unsignedAttributes,
  };
}

/** `parseAttributes` of plain DER, or undefined for another shape. */
function parseDerAttributes(bytes: Uint8Array, block: DerElement): CmsAttribute[] | undefined {
  const attributes: CmsAttribute[] = [];
  for (const attribute of elementsIn(bytes, block)!) {
    const [type, values] = attribute.tag === SEQUENCE ? elementsIn(bytes, attribute)! : [];
    const typeOid = type && oidAt(bytes, type);
    if (!typeOid || (values && values.tag !== SET)) return undefined;
    attributes.push({
      type: typeOid,
      values: values ? elementsIn(bytes, values)!.map((value) => copyOf(bytes, value)) : [],
    });
  }
  return attributes;
}

/** `parseCms` through the full ASN.1 parser: BER, and every malformed input's message. */
export function parseBerCms(bytes: Uint8Array): ParsedCms {
  const contentInfo = children(parseBer(bytes, "CMS", "E_VERIFY"));
  if (oidOf(contentInfo[0]) !== OID.signedData) fail("not a SignedData ContentInfo");
  const signedData = children(contentInfo[1] ?? fail("no content"))[0] ?? fail("empty content");
  const fields = children(signedData);
  const [encapsulated] = children(fields[2] ?? fail("no encapContentInfo")).slice(1);
  const certificateSet = fields.find((field, i) => i > 2 && isContextTag(field, 0));
  const signerInfos = fields[fields.length - 1] ?? fail("no signerInfos");
  return {
    signedDataFields: fields.map(rawBytes),
    encapsulatedContentType: oidOf(children(fields[2]!)[0]) ?? fail("bad eContentType"),
    encapsulatedContent: encapsulated ? octetsOf(children(encapsulated)[0] ?? encapsulated) : undefined,
    certificates: certificateSet
      ? children(certificateSet)
          .filter((choice) => choice.idBlock.tagClass === 1)
          .map(rawBytes)
      : [],
    signerInfos: children(signerInfos).map(parseSignerInfo),
  };
}

export function attributeValues(attributes: CmsAttribute[], type: string): Uint8Array[] | undefined {
  return attributes.find((attribute) => attribute.type === type)?.values;
}
