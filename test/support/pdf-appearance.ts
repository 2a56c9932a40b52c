import { PDFDict, PDFDocument, PDFName, type PDFNumber, PDFStream } from "pdf-lib";

export interface AppearanceImage {
  width: number;
  height: number;
  /** The image has a soft mask (a PNG's transparency). */
  softMask: boolean;
}

/**
 * The image XObjects drawn by a signature field's normal appearance, searched through the form
 * XObjects it nests (a few levels), read with pdf-lib rather than with the code under test.
 */
export async function appearanceImages(pdfBytes: Uint8Array, fieldName: string): Promise<AppearanceImage[]> {
  const pdf = await PDFDocument.load(pdfBytes, { updateMetadata: false });
  const widget = pdf.getForm().getField(fieldName).acroField.getWidgets()[0]!;
  const normal = pdf.context.lookup(widget.getNormalAppearance());
  const images: AppearanceImage[] = [];
  const visit = (object: unknown, depth: number): void => {
    if (!(object instanceof PDFStream) || depth > 5) return;
    const subtype = object.dict.get(PDFName.of("Subtype"));
    if (subtype === PDFName.of("Image")) {
      const size = (key: string) => (object.dict.lookup(PDFName.of(key)) as PDFNumber).asNumber();
      images.push({
        width: size("Width"),
        height: size("Height"),
        softMask: object.dict.has(PDFName.of("SMask")),
      });
      return;
    }
    const resources = object.dict.lookupMaybe(PDFName.of("Resources"), PDFDict);
    const xobjects = resources?.lookupMaybe(PDFName.of("XObject"), PDFDict);
    for (const [, value] of xobjects?.entries() ?? []) visit(pdf.context.lookup(value), depth + 1);
  };
  visit(normal, 0);
  return images;
}
