import { EsignError } from "@esign/errors";
import type { ByteSource, IncrementalUpdate, PdfDocument, PdfRef } from "@esign/pdf";
import { AppearanceFont } from "./font";
import { readSealImage } from "./image";
import { type PdfAConstraints, pdfaConstraints } from "./pdfa";
import { type Placement, type PlacementRequest, resolvePlacement } from "./placement";
import { layoutSeal, type SealDesign } from "./seal";
import { DEFAULT_TEXT_TEMPLATE, fillTemplate, type TemplateValues } from "./template";

export interface VisibleSignatureOptions {
  placement: PlacementRequest;
  /** Text template (`{name}`, `{date}`, ...), lines separated by "\n"; default DEFAULT_TEXT_TEMPLATE, "" for none. */
  text?: string;
  /** PNG or JPEG bytes of the seal image. */
  image?: Uint8Array;
  /** TrueType/OpenType file for the text; default: the bundled Noto Sans SC. */
  fontPath?: string;
  /** Largest font size; the text shrinks to fit. */
  fontSize?: number;
  /** Frame; default a 1 pt dark blue line. Width 0 draws none. */
  border?: SealDesign["border"];
  /** "#rrggbb" background; default none (the page shows through). */
  background?: string;
}

/** A placed, laid-out seal: what the signature revision needs to make its widget visible. */
export interface VisibleSignature extends Placement {
  /** The size the text was fitted at. */
  fontSize: number | undefined;
  /** The PDF/A rules the appearance was drawn under, when the document declares PDF/A. */
  pdfa: PdfAConstraints | undefined;
  /** Writes the form XObject (with its font subset and image) into the revision. */
  appearance(update: IncrementalUpdate): PdfRef;
}

const DEFAULT_BORDER = { width: 1, color: "#1f3a68" };

/**
 * Places and lays out a visible signature on `doc`. Everything that can be wrong with the request
 * (anchor not found, page or rectangle out of range, unreadable image or font, text that does not
 * fit) fails here with E_APPEARANCE, before any signing service is called.
 */
export async function prepareVisibleSignature(
  doc: PdfDocument,
  source: ByteSource,
  options: VisibleSignatureOptions,
  values: TemplateValues,
  /** The password of an encrypted document (its objects are read already; pdf.js reads it again). */
  password?: string,
): Promise<VisibleSignature> {
  const pdfa = await pdfaConstraints(doc);
  const colorSpace = pdfa ? (pdfa.colorSpace ?? "gray") : undefined;
  const image =
    options.image &&
    readSealImage(options.image, { flattenTransparency: pdfa?.flattenTransparency, colorSpace });
  const lines = fillTemplate(options.text ?? DEFAULT_TEXT_TEMPLATE, values);
  const font = lines.length > 0 ? await AppearanceFont.open(options.fontPath) : undefined;
  if (font?.cffOutlines && pdfa?.part === 1) {
    throw new EsignError(
      "E_APPEARANCE",
      `the document is PDF/A-1, which cannot embed the OpenType (CFF) font ${font.path}; use a TrueType font`,
    );
  }
  const placement = await resolvePlacement(doc, source, options.placement, password);
  const seal = await layoutSeal(
    {
      lines,
      font,
      image,
      fontSize: options.fontSize,
      border: options.border ?? DEFAULT_BORDER,
      background: options.background,
      colorSpace: colorSpace ?? "rgb",
    },
    placement,
  );
  return { ...placement, fontSize: seal.fontSize, pdfa, appearance: (update) => seal.embed(update) };
}
