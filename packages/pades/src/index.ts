export {
  DIGEST_ALGORITHMS,
  type DigestAlgorithm,
  digestAlgorithmOf,
  digestLength,
  hash,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  signatureAlgorithmIdentifier,
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
export { type HttpAnswer, type HttpCallOptions, httpCall, retryAfterSeconds } from "./http";
export {
  certificatesFromPem,
  type LoadCredentialsOptions,
  type LocalCredentials,
  type LocalCredentialsSource,
  loadLocalCredentials,
} from "./keys";
export { certificatesOfSignature, gatherLtv, type LtvData, vriKey } from "./ltv";
export { OID } from "./oids";
export { checkReturnedCms, type ReturnedCmsExpectation } from "./returned-cms";
export type { LaterChanges } from "./revisions";
export {
  checkCrl,
  checkOcspResponse,
  fetchCrl,
  fetchIssuer,
  fetchOcsp,
  hasOcspNoCheck,
  type OcspResult,
  type RevocationOptions,
  revocationUrls,
} from "./revocation-client";
export type { RevocationStatus } from "./revocation-status";
export { assertUsableSignerCertificate } from "./signer-certificate";
export { TsaClient, type TsaClientOptions } from "./tsa";
export { verificationPasses, verificationReportJson } from "./verification-json";
export {
  type CmsVerification,
  type ContentDigester,
  type SignerVerification,
  type TimestampVerification,
  type VerifyCmsOptions,
  verifyCms,
  verifyTimestampToken,
} from "./verify-cms";
export {
  type DssSummary,
  type PadesLevelFound,
  type PdfSignatureReport,
  type PdfVerificationReport,
  type VerifyPdfOptions,
  verifyPdfSignatures,
} from "./verify-pdf";
