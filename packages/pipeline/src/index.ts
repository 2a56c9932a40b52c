export {
  assertCompletable,
  byteRangeCheck,
  type CompleteOptions,
  checkSignResult,
  complete,
  type OutputCheck,
  type SignedPdf,
  signRequestOf,
  verifyOutput,
  verifyOutputStructure,
} from "./complete";
export { appendDocumentTimestamp, appendValidationData, type DocumentTimestamper } from "./ltv";
export {
  type FieldOptions,
  hashedLengthOf,
  type OpenInputOptions,
  type Prepared,
  PreparedSchema,
  type PrepareOptions,
  prepare,
  preparedFor,
  prepareWithInput,
  type SignerSizing,
  signedLengthOf,
  type VersionedSource,
} from "./prepare";
export { type SignPdfOptions, signPdf, type VerifiedSignedPdf } from "./sign";
export { writeSignedPdf } from "./write";
