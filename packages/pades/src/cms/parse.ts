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
