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
export { buildChain, type CertificateSummary, type ChainReport } from "./chain";
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
export {
  type CmsVerification,
  type ContentDigester,
  type SignerVerification,
  type TimestampVerification,
  type VerifyCmsOptions,
  verifyCms,
  verifyTimestampToken,
} from "./verify-cms";
