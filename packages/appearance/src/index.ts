export { type Box, findText, type PlacedCharacter, pageCharacters, type TextMatch } from "./anchor";
export { AppearanceFont } from "./font";
export {
  type ColorSpace,
  MAX_SIGNATURE_IMAGE_BYTES,
  readSealImage,
  readSignatureImage,
  type SealImage,
} from "./image";
export type { PdfAConstraints } from "./pdfa";
export { type Placement, type PlacementRequest, resolvePlacement } from "./placement";
export type { Rotation, SealDesign } from "./seal";
export {
  certificateSubject,
  checkSealText,
  fillTemplate,
  signatureTemplateValues,
  type TemplateValues,
} from "./template";
export {
  prepareVisibleSignature,
  type VisibleSignature,
  type VisibleSignatureOptions,
} from "./visible-signature";
