export { hashByteRange } from "./digest";
export { openPdf, type PageInfo, PdfDocument } from "./document";
export { type AppendedRevision, appendDss, type DssInput, type VriEntry } from "./dss";
export {
  certificationPermission,
  type DocMdpPermission,
  type FormField,
  formFields,
  type SignatureField,
  type SignatureInfo,
  signatureFields,
  widgetOf,
} from "./fields";
export { decodeStream } from "./filters";
export { type BuiltRevision, IncrementalUpdate } from "./incremental";
export { DEFAULT_LIMITS, type PdfLimits } from "./limits";
export * from "./objects";
export { formatNumber } from "./serialize";
export {
  type PreparedSignature,
  prepareSignature,
  type SignatureOptions,
  type SignatureWidget,
} from "./signature";
export * from "./source";
export { decodeTextString, encodeTextString, formatPdfDate, parsePdfDate } from "./text";
export type { XrefKind } from "./xref";
