import { EsignError } from "@esign/errors";
import { sequence, setOf } from "../asn1/der";
import { type CmsAttribute, encodeContentInfo, encodeUnsignedAttributes } from "./build";
import { type ParsedCms, parseCms } from "./parse";

function onlySigner(cms: ParsedCms) {
  if (cms.signerInfos.length !== 1) {
    throw new EsignError("E_VERIFY", `expected one SignerInfo, found ${cms.signerInfos.length}`);
  }
  return cms.signerInfos[0]!;
}

/**
 * SignerInfo.signature's octets: what a signature time-stamp's messageImprint is computed over
 * (RFC 3161 appendix A), not the whole SignerInfo.
 */
export function signatureValueOf(cms: Uint8Array): Uint8Array {
  return onlySigner(parseCms(cms)).signature;
}

/**
 * Returns a new CMS with one more unsigned attribute value (e.g. a signatureTimeStampToken) on its
 * only SignerInfo. A value of the same type is added to that attribute's SET; everything signed is
 * carried over byte for byte.
 */
export function addUnsignedAttribute(cms: Uint8Array, type: string, valueDer: Uint8Array): Uint8Array {
  const parsed = parseCms(cms);
  const signer = onlySigner(parsed);
  const existing = signer.unsignedAttributes.find((attribute) => attribute.type === type);
  const attributes: CmsAttribute[] = existing
    ? signer.unsignedAttributes.map((a) => (a === existing ? { type, values: [...a.values, valueDer] } : a))
    : [...signer.unsignedAttributes, { type, values: [valueDer] }];

  const signedFieldCount =
    signer.unsignedAttributes.length > 0 ? signer.fields.length - 1 : signer.fields.length;
  const signerInfo = sequence(
    ...signer.fields.slice(0, signedFieldCount),
    encodeUnsignedAttributes(attributes),
  );
  const fields = [...parsed.signedDataFields];
  fields[fields.length - 1] = setOf(signerInfo);
  return encodeContentInfo(fields);
}
