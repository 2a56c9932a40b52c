export {
  DIGEST_ALGORITHMS,
  type DigestAlgorithm,
  digestAlgorithmOf,
  digestLength,
  hash,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  signatureAlgorithmsForKey,
  signData,
  verifyData,
} from "./algorithms";
export {
  type AssembleCmsInput,
  assembleCms,
  buildSignedAttributes,
  type CmsAttribute,
  type SignedAttributesInput,
} from "./cms";
export { type ParsedCms, type ParsedSignerInfo, parseCms } from "./cms-parse";
export { addUnsignedAttribute, signatureValueOf } from "./cms-unsigned";
export {
  type LoadCredentialsOptions,
  type LocalCredentials,
  type LocalCredentialsSource,
  loadLocalCredentials,
} from "./keys";
export { OID } from "./oids";
