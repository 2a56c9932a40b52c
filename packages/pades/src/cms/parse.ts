import { EsignError } from "@esign/errors";
import { retag, TAG } from "../asn1/der";
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

/** One DER element: its tag byte, where it starts, where its content starts, where it ends. */
interface Element {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

const SEQUENCE = 0x30;
const CONTEXT_0 = 0xa0;
const CONTEXT_1 = 0xa1;

/** The element at `offset`, or undefined for anything but a definite length and a low tag number. */
function elementAt(bytes: Uint8Array, offset: number, limit: number): Element | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = bytes[offset + 1]!;
  let contentStart = offset + 2;
  if (length === 0x80) return undefined; // BER indefinite length
  if (length > 0x80) {
    const octets = length & 0x7f;
    if (octets > 4 || contentStart + octets > limit) return undefined;
    length = 0;
    for (let index = 0; index < octets; index++) length = length * 256 + bytes[contentStart + index]!;
    contentStart += octets;
  }
  const end = contentStart + length;
  return end > limit ? undefined : { tag, start: offset, contentStart, end };
}

function elementsIn(bytes: Uint8Array, parent: Element): Element[] | undefined {
  const elements: Element[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const element = elementAt(bytes, offset, parent.end);
    if (!element) return undefined;
    elements.push(element);
    offset = element.end;
  }
  return elements;
}

/**
 * `parseCms` for the common case, a DER SignedData, without handing its certificates to the ASN.1
 * parser: they are most of its bytes and only their encodings are kept, so the outer structure is
 * walked by tag and length and only the small parts read field by field (content type, signer
 * infos) go through `parseBer`. Undefined for anything else (BER, not a SignedData, truncated),
 * which the full parser then handles or refuses.
 */
function parseDerCms(bytes: Uint8Array): ParsedCms | undefined {
  const contentInfo = elementAt(bytes, 0, bytes.length);
  if (contentInfo?.tag !== SEQUENCE || contentInfo.end !== bytes.length) return undefined;
  const [type, explicit] = elementsIn(bytes, contentInfo) ?? [];
  if (!type || explicit?.tag !== CONTEXT_0) return undefined;
  if (oidOf(parseBer(bytes.subarray(type.start, type.end), "CMS", "E_VERIFY")) !== OID.signedData) {
    return undefined;
  }
  const [signedData] = elementsIn(bytes, explicit) ?? [];
  if (signedData?.tag !== SEQUENCE) return undefined;
  const fields = elementsIn(bytes, signedData);
  if (!fields || fields.length < 4) return undefined;
  const [certificateSet] = fields.filter((field, index) => index > 2 && field.tag === CONTEXT_0);
  const signerInfos = fields[fields.length - 1]!;
  if (signerInfos.tag === CONTEXT_0 || signerInfos.tag === CONTEXT_1) return undefined;
  const certificates = certificateSet ? elementsIn(bytes, certificateSet) : [];
  if (!certificates) return undefined;
  const copy = (element: Element) => bytes.slice(element.start, element.end);
  const encapsulatedInfo = parseBer(copy(fields[2]!), "CMS encapContentInfo", "E_VERIFY");
  const [encapsulated] = children(encapsulatedInfo).slice(1);
  return {
    signedDataFields: fields.map(copy),
    encapsulatedContentType: oidOf(children(encapsulatedInfo)[0]) ?? fail("bad eContentType"),
    encapsulatedContent: encapsulated ? octetsOf(children(encapsulated)[0] ?? encapsulated) : undefined,
    // CertificateChoices: a plain certificate is a SEQUENCE; the others are context-tagged.
    certificates: certificates.filter((choice) => (choice.tag & 0xc0) === 0).map(copy),
    signerInfos: children(parseBer(copy(signerInfos), "CMS signerInfos", "E_VERIFY")).map(parseSignerInfo),
  };
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
