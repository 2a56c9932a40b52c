import { asArray, asDict, asInteger, decodeStream, isName, type PdfDocument, PdfStream } from "@esign/pdf";
import type { ColorSpace } from "./image";

/** What a document's PDF/A declaration asks of an appearance added to it. */
export interface PdfAConstraints {
  /** pdfaid:part from the XMP metadata (1, 2, 3, 4). */
  part: number;
  /** PDF/A-1 has no transparency: no soft masks, so images are flattened onto white. */
  flattenTransparency: boolean;
  /**
   * Device colours must match the output intent's profile (1, 3 or 4 components); DeviceGray is
   * allowed under any intent. Undefined when the file has no PDF/A output intent.
   */
  colorSpace: ColorSpace | undefined;
}

/** XMP packets are small; a metadata stream larger than this is not worth reading for one attribute. */
const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/**
 * The PDF/A constraints of `doc`, or undefined when its catalog /Metadata declares no PDF/A part.
 * Both XMP spellings are recognised: `pdfaid:part="1"` and `<pdfaid:part>1</pdfaid:part>`.
 */
export async function pdfaConstraints(doc: PdfDocument): Promise<PdfAConstraints | undefined> {
  const catalog = await doc.catalog();
  const metadata = await doc.resolve(catalog.get("Metadata"));
  if (!(metadata instanceof PdfStream)) return undefined;
  let xmp: string;
  try {
    xmp = Buffer.from(
      decodeStream(metadata.dict, await doc.streamBytes(metadata), MAX_METADATA_BYTES),
    ).toString("utf8");
  } catch {
    return undefined; // unreadable metadata declares nothing we can honour
  }
  const part = /pdfaid:part\s*(?:=\s*["']|>)\s*(\d)/.exec(xmp)?.[1];
  if (part === undefined) return undefined;
  return {
    part: Number(part),
    flattenTransparency: part === "1",
    colorSpace: await outputIntentSpace(doc, catalog.get("OutputIntents")),
  };
}

async function outputIntentSpace(
  doc: PdfDocument,
  value: Parameters<PdfDocument["resolve"]>[0],
): Promise<ColorSpace | undefined> {
  for (const item of asArray(await doc.resolve(value)) ?? []) {
    const intent = await doc.resolveDict(item);
    if (!intent || !isName(intent.get("S"), "GTS_PDFA1")) continue;
    const profile = asDict(await doc.resolve(intent.get("DestOutputProfile")));
    const components = asInteger(await doc.resolve(profile?.get("N")));
    if (components === 1) return "gray";
    if (components === 4) return "cmyk";
    if (components === 3) return "rgb";
  }
  return undefined;
}
