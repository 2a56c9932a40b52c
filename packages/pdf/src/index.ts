export { hashByteRange } from "./io/digest";
export * from "./io/source";
export { type OpenOptions, openPdf, type PageInfo, PdfDocument } from "./reader/document";
export {
  certificationPermission,
  type DocMdpPermission,
  type FormField,
  formFields,
  type SignatureField,
  type SignatureInfo,
  signatureFields,
  widgetOf,
} from "./reader/fields";
export { DEFAULT_LIMITS, type PdfLimits } from "./reader/limits";
export type { XrefKind } from "./reader/xref";
export { decodeStream } from "./syntax/filters";
export * from "./syntax/objects";
export { formatNumber } from "./syntax/serialize";
export { decodeTextString, encodeTextString, formatPdfDate, parsePdfDate } from "./syntax/text";
export { type AppendedRevision, appendDss, type DssInput, type VriEntry } from "./writer/dss";
export { type BuiltRevision, IncrementalUpdate } from "./writer/incremental";
export { requirePermission, type SigningChange } from "./writer/permissions";
export {
  embedSignatureContents,
  type PreparedSignature,
  prepareSignature,
  type SignatureOptions,
  type SignatureWidget,
} from "./writer/signature";
