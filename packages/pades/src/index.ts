export { OID } from "./asn1/oids";
export {
  type AssembleCmsInput,
  assembleCms,
  buildSignedAttributes,
  type CmsAttribute,
  type SignedAttributesInput,
} from "./cms/build";
export { type ParsedCms, type ParsedSignerInfo, parseCms } from "./cms/parse";
export { checkReturnedCms, type ReturnedCmsExpectation } from "./cms/returned-cms";
export { addUnsignedAttribute, signatureValueOf } from "./cms/unsigned";
export { type HttpAnswer, type HttpCallOptions, httpCall, retryAfterSeconds } from "./http";
export { certificatesOfSignature, gatherLtv, type LtvData, vriKey } from "./ltv/gather";
export {
  checkLtvEnabled,
  type LtvCheck,
  type LtvGap,
  ltvReadinessGaps,
  type ValidationData,
} from "./ltv/ltv-enabled";
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
} from "./pki/algorithms";
export { x509Of } from "./pki/certificate";
export { buildChain, type CertificateSummary, type ChainReport } from "./pki/chain";
export {
  certificatesFromPem,
  type LoadCredentialsOptions,
  type LocalCredentials,
  type LocalCredentialsSource,
  loadLocalCredentials,
} from "./pki/keys";
export { assertUsableSignerCertificate } from "./pki/signer-certificate";
export { loadTrustStore, trustedListCertificates } from "./pki/trust-store";
export { hasOcspNoCheck, revocationUrls } from "./revocation/extensions";
export { fetchCrl, fetchIssuer, fetchOcsp } from "./revocation/fetch";
export { DEFAULT_REVOCATION_GRACE_MS } from "./revocation/freshness";
export type { CertificateStatus } from "./revocation/ocsp";
export {
  checkCrl,
  checkOcspResponse,
  type OcspResult,
  type RevocationOptions,
  type RevocationReportOptions,
  type RevocationStatus,
  revocationStatus,
} from "./revocation/policies";
export { TsaClient, type TsaClientOptions } from "./timestamp/tsa-client";
export type { DocumentChange, Modifications } from "./validation/changes/analyse";
export type { Indication, SubIndication } from "./validation/indication";
export { etsiValidationReportXml } from "./validation/report-etsi";
export { verificationPasses, verificationReportJson } from "./validation/report-json";
export {
  type CmsVerification,
  type ContentDigester,
  type SignerVerification,
  type TimestampVerification,
  type VerifyCmsOptions,
  verifyCms,
  verifyTimestampToken,
} from "./validation/verify-cms";
export {
  type DssContents,
  type DssSummary,
  type PadesLevelFound,
  type PdfSignatureReport,
  type PdfVerificationReport,
  readDss,
  type VerifyPdfOptions,
  verifyPdfSignatures,
} from "./validation/verify-pdf";
