import { EsignError } from "@esign/errors";
import { formatNumber, type IncrementalUpdate, name, PdfDict, type PdfRef, PdfStream } from "@esign/pdf";
import type { AppearanceFont, SubsetFont } from "./font";
import type { SealImage } from "./image";

export type Rotation = 0 | 90 | 180 | 270;

/** How the seal looks; sizes in points. */
export interface SealDesign {
  /** Text lines (templates already filled); empty for an image-only seal. */
  lines: string[];
  /** Needed when there are lines. */
  font: AppearanceFont | undefined;
  image?: SealImage;
  /** Largest font size to use; the text is shrunk until it fits the box. Default 14. */
  fontSize?: number;
  /** Frame around the box: stroke width and "#rrggbb" colour. */
  border?: { width: number; color: string };
  /** "#rrggbb" fill behind everything. */
  background?: string;
  /**
   * How colours are written: DeviceRGB, or DeviceGray/DeviceCMYK when a PDF/A output intent
   * allows only those. Text is always DeviceGray black, valid under any output intent.
   */
  colorSpace?: "rgb" | "gray" | "cmyk";
}

const DEFAULT_FONT_SIZE = 14;
const MIN_FONT_SIZE = 4;

/** A laid-out seal, ready to be written as the widget's normal appearance (/AP /N). */
export interface SealAppearance {
  /** Font size the text was fitted at (undefined without text). */
  fontSize: number | undefined;
  /** Adds the form XObject and what it uses to `update`; returns the form's reference. */
  embed(update: IncrementalUpdate): PdfRef;
}

/**
 * Lays out a seal for a box of `width` × `height` points as the reader sees it, on a page shown
 * rotated by `rotation` degrees clockwise: the form's /Matrix turns the drawing the other way, so
 * the seal is upright on screen (the widget's /Rect is the rotated box in page space).
 */
export async function layoutSeal(
  design: SealDesign,
  box: { width: number; height: number; rotation: Rotation },
): Promise<SealAppearance> {
  const { width, height } = box;
  const padding = Math.min(4, 0.08 * Math.min(width, height));
  const inner = { x: padding, y: padding, width: width - 2 * padding, height: height - 2 * padding };
  const lines = design.lines.filter((line) => line.trim() !== "");
  const ops: string[] = [];
  const colorOperator = (hex: string, stroke: boolean) => colorOps(hex, design.colorSpace ?? "rgb", stroke);

  if (design.background)
    ops.push(`${colorOperator(design.background, false)} 0 0 ${n(width)} ${n(height)} re f`);
  if (design.border && design.border.width > 0) {
    const w = design.border.width;
    ops.push(
      `${colorOperator(design.border.color, true)} ${n(w)} w ${n(w / 2)} ${n(w / 2)} ${n(width - w)} ${n(height - w)} re S`,
    );
  }

  let textArea = inner;
  const image = design.image;
  if (image) {
    const aspect = image.width / image.height;
    const maxWidth = lines.length > 0 ? inner.width * 0.4 : inner.width;
    const drawWidth = Math.min(maxWidth, inner.height * aspect);
    const drawHeight = drawWidth / aspect;
    const x = lines.length > 0 ? inner.x : inner.x + (inner.width - drawWidth) / 2;
    const y = inner.y + (inner.height - drawHeight) / 2;
    ops.push(`q ${n(drawWidth)} 0 0 ${n(drawHeight)} ${n(x)} ${n(y)} cm /Im0 Do Q`);
    textArea = { ...inner, x: inner.x + drawWidth + padding, width: inner.width - drawWidth - padding };
  }

  let subset: SubsetFont | undefined;
  let fontSize: number | undefined;
  if (lines.length > 0) {
    if (!design.font) throw new EsignError("E_INTERNAL", "a seal with text needs a font");
    subset = await design.font.shape(lines);
    const lineHeight = (subset.ascent - subset.descent) / 1000;
    const widest = Math.max(...subset.lines.map((line) => line.width)) / 1000;
    fontSize = Math.min(
      design.fontSize ?? DEFAULT_FONT_SIZE,
      widest > 0 ? textArea.width / widest : Number.POSITIVE_INFINITY,
      textArea.height / (lines.length * lineHeight),
    );
    if (!(fontSize >= MIN_FONT_SIZE)) {
      throw new EsignError(
        "E_APPEARANCE",
        `the text does not fit a ${n(width)}x${n(height)} pt box at ${MIN_FONT_SIZE} pt or more; make the box larger or the text shorter`,
      );
    }
    fontSize = Math.floor(fontSize * 10) / 10;
    const leading = fontSize * lineHeight;
    const blockHeight = leading * lines.length;
    // First baseline: top of the centred text block minus the ascender.
    const top = textArea.y + (textArea.height + blockHeight) / 2;
    const firstBaseline = top - (subset.ascent / 1000) * fontSize;
    ops.push(`BT /F0 ${n(fontSize)} Tf 0 g ${n(textArea.x)} ${n(firstBaseline)} Td`);
    subset.lines.forEach((line, index) => {
      if (index > 0) ops.push(`0 ${n(-leading)} Td`);
      ops.push(subset!.showText(line));
    });
    ops.push("ET");
  }

  return {
    fontSize,
    embed(update) {
      const resources = new PdfDict();
      if (subset) resources.set("Font", PdfDict.of({ F0: subset.embed(update) }));
      if (image) resources.set("XObject", PdfDict.of({ Im0: image.embed(update) }));
      const content = Buffer.from(`q\n${ops.join("\n")}\nQ\n`, "latin1");
      return update.add(
        new PdfStream(
          PdfDict.of({
            Type: name("XObject"),
            Subtype: name("Form"),
            BBox: [0, 0, round(width), round(height)],
            Matrix: rotationMatrix(box.rotation, round(width), round(height)),
            Resources: resources,
          }),
          undefined,
          content,
        ),
      );
    },
  };
}

/** Counter-clockwise by `rotation`, translated so the rotated box starts at the origin. */
function rotationMatrix(rotation: Rotation, width: number, height: number): number[] {
  switch (rotation) {
    case 90:
      return [0, 1, -1, 0, height, 0];
    case 180:
      return [-1, 0, 0, -1, width, height];
    case 270:
      return [0, -1, 1, 0, 0, width];
    default:
      return [1, 0, 0, 1, 0, 0];
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function n(value: number): string {
  return formatNumber(round(value));
}

/** "#rrggbb" as a fill (rg/g/k) or stroke (RG/G/K) colour operator in the chosen colour space. */
function colorOps(hex: string, space: "rgb" | "gray" | "cmyk", stroke: boolean): string {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!match) throw new EsignError("E_APPEARANCE", `colour "${hex}" is not of the form #rrggbb`);
  const [r, g, b] = match.slice(1).map((part) => Number.parseInt(part, 16) / 255) as [number, number, number];
  const fixed = (value: number) => formatNumber(Math.round(value * 1000) / 1000);
  if (space === "gray") return `${fixed(0.299 * r + 0.587 * g + 0.114 * b)} ${stroke ? "G" : "g"}`;
  if (space === "cmyk") {
    const k = 1 - Math.max(r, g, b);
    const part = (value: number) => (k >= 1 ? 0 : (1 - value - k) / (1 - k));
    return `${[part(r), part(g), part(b), k].map(fixed).join(" ")} ${stroke ? "K" : "k"}`;
  }
  return `${[r, g, b].map(fixed).join(" ")} ${stroke ? "RG" : "rg"}`;
}
