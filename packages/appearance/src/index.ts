export { type Box, findText, type TextMatch } from "./anchor";
export { AppearanceFont, defaultFontPath } from "./font";
export { type ColorSpace, readSealImage, type SealImage } from "./image";
export { type PdfAConstraints, pdfaConstraints } from "./pdfa";
export { DEFAULT_SEAL_SIZE, type Placement, type PlacementRequest, resolvePlacement } from "./placement";
export { layoutSeal, type Rotation, type SealAppearance, type SealDesign } from "./seal";
export {
  certificateSubject,
  DEFAULT_TEXT_TEMPLATE,
  fillTemplate,
  formatSealDate,
  PLACEHOLDERS,
  signatureTemplateValues,
  type TemplateValues,
} from "./template";
export {
  DEFAULT_BORDER,
  prepareVisibleSignature,
  type VisibleSignature,
  type VisibleSignatureOptions,
} from "./visible-signature";
