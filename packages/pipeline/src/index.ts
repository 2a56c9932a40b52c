export { appendDocumentTimestamp, appendValidationData, type DocumentTimestamper } from "./ltv";
export { type FieldOptions, type SignedPdf, type SignPdfOptions, signPdf } from "./sign";
export { writeSignedPdf } from "./write";
