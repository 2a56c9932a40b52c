import { EsignError } from "@esign/errors";
import {
  asArray,
  type ByteSource,
  type PageInfo,
  type PdfDict,
  type PdfDocument,
  type PdfObject,
  PdfRef,
  signatureFields,
  widgetOf,
} from "@esign/pdf";
import { type Box, findText } from "./anchor";
import type { Rotation } from "./seal";

/**
 * Where a visible signature goes. Coordinates and sizes are in points, in the page as the reader
 * sees it: origin at the bottom-left corner of the visible area (the /CropBox), x to the right and
 * y up after the page's /Rotate is applied.
 */
export type PlacementRequest =
  /** An existing empty signature field (by name, else the first one); else the default spot, `size` big. */
  | { kind: "field"; fieldName?: string; page?: number; size?: [number, number] }
  | { kind: "rect"; page?: number; rect: Box }
  /** The rectangle's lower-left corner sits at the anchor text's lower-left corner plus `offset`. */
  | { kind: "anchor"; page?: number; text: string; offset?: [number, number]; size?: [number, number] };

export interface Placement {
  /** 1-based page of the widget. */
  page: number;
  /** The widget's /Rect, in the page's user space. */
  rect: Box;
  /** The page's /Rotate: the appearance is turned back by it so it reads upright. */
  rotation: Rotation;
  /** Size of the seal as the reader sees it. */
  width: number;
  height: number;
  /** Set when an existing empty signature field is filled. */
  fieldName?: string;
}

/** Size of a seal placed without one: about 7 × 2.5 cm. */
const DEFAULT_SEAL_SIZE: [number, number] = [200, 70];
/** Distance of the default seal from the visible page's bottom and right edges. */
const DEFAULT_MARGIN = 36;

export async function resolvePlacement(
  doc: PdfDocument,
  source: ByteSource,
  request: PlacementRequest,
  /** The password of an encrypted document, for the text search of an anchor. */
  password?: string,
): Promise<Placement> {
  if (request.kind === "field") {
    const field = await emptyFieldWidget(doc, request.fieldName);
    if (field) return field;
  }
  const pageNumber =
    request.kind === "anchor" && request.page === undefined
      ? undefined
      : (request.page ?? (await doc.pageCount()));
  if (request.kind === "anchor") {
    const match = await findText(source, request.text, pageNumber, password);
    if (!match) {
      const where = pageNumber === undefined ? "in the document" : `on page ${pageNumber}`;
      throw new EsignError("E_APPEARANCE", `the anchor text "${request.text}" was not found ${where}`);
    }
    const view = await pageView(doc, match.page);
    const anchor = view.toVisible(match.box);
    const [dx, dy] = request.offset ?? [0, 0];
    const [width, height] = request.size ?? DEFAULT_SEAL_SIZE;
    return view.place([anchor[0] + dx, anchor[1] + dy, anchor[0] + dx + width, anchor[1] + dy + height]);
  }
  const view = await pageView(doc, pageNumber!);
  if (request.kind === "rect") return view.place(request.rect);
  const [width, height] = request.size ?? DEFAULT_SEAL_SIZE;
  const right = view.width - DEFAULT_MARGIN;
  return view.place([right - width, DEFAULT_MARGIN, right, DEFAULT_MARGIN + height]);
}

interface PageView {
  /** Visible width and height (after rotation). */
  width: number;
  height: number;
  toVisible(box: Box): Box;
  /** Checks a visible-space rectangle against the page and maps it to user space. */
  place(visible: Box): Placement;
}

async function pageView(doc: PdfDocument, number: number): Promise<PageView> {
  const page = await doc.page(number);
  if (!page) {
    throw new EsignError(
      "E_APPEARANCE",
      `page ${number} does not exist (the document has ${await doc.pageCount()})`,
    );
  }
  const crop = visibleArea(page);
  const rotation = rotationOf(page);
  const [cx1, cy1, cx2, cy2] = crop;
  const turned = rotation === 90 || rotation === 270;
  const width = turned ? cy2 - cy1 : cx2 - cx1;
  const height = turned ? cx2 - cx1 : cy2 - cy1;
  // (u, v) in the reader's view → (x, y) in user space, for each /Rotate (the page turns clockwise).
  const toUser = ([u, v]: [number, number]): [number, number] => {
    switch (rotation) {
      case 90:
        return [cx2 - v, cy1 + u];
      case 180:
        return [cx2 - u, cy2 - v];
      case 270:
        return [cx1 + v, cy2 - u];
      default:
        return [cx1 + u, cy1 + v];
    }
  };
  const toVisiblePoint = ([x, y]: [number, number]): [number, number] => {
    switch (rotation) {
      case 90:
        return [y - cy1, cx2 - x];
      case 180:
        return [cx2 - x, cy2 - y];
      case 270:
        return [cy2 - y, x - cx1];
      default:
        return [x - cx1, y - cy1];
    }
  };
  const mapBox = (box: Box, map: (point: [number, number]) => [number, number]): Box => {
    const [ax, ay] = map([box[0], box[1]]);
    const [bx, by] = map([box[2], box[3]]);
    return [Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)];
  };
  return {
    width,
    height,
    toVisible: (box) => mapBox(box, toVisiblePoint),
    place(visible) {
      const [x1, y1, x2, y2] = visible;
      if (![x1, y1, x2, y2].every(Number.isFinite) || x2 <= x1 || y2 <= y1) {
        throw new EsignError(
          "E_APPEARANCE",
          `the rectangle ${visible.join(",")} must be x1,y1,x2,y2 with x2 > x1 and y2 > y1`,
        );
      }
      const tolerance = 0.5;
      if (x1 < -tolerance || y1 < -tolerance || x2 > width + tolerance || y2 > height + tolerance) {
        throw new EsignError(
          "E_APPEARANCE",
          `the rectangle ${visible.map(round).join(",")} is outside page ${number}, whose visible area is 0,0,${round(width)},${round(height)}`,
        );
      }
      return { page: number, rect: mapBox(visible, toUser), rotation, width: x2 - x1, height: y2 - y1 };
    },
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function normalizedBox(value: PdfObject | undefined): Box | undefined {
  const numbers = asArray(value)?.filter((item): item is number => typeof item === "number");
  if (numbers?.length !== 4) return undefined;
  const [a, b, c, d] = numbers as [number, number, number, number];
  return [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)];
}

/** The CropBox clipped to the MediaBox (what viewers show); US Letter when the file says nothing. */
function visibleArea(page: PageInfo): Box {
  const media = normalizedBox(page.mediaBox) ?? [0, 0, 612, 792];
  const crop = normalizedBox(page.cropBox) ?? media;
  const clipped: Box = [
    Math.max(crop[0], media[0]),
    Math.max(crop[1], media[1]),
    Math.min(crop[2], media[2]),
    Math.min(crop[3], media[3]),
  ];
  return clipped[2] > clipped[0] && clipped[3] > clipped[1] ? clipped : media;
}

function rotationOf(page: PageInfo): Rotation {
  const rotate = ((page.rotate % 360) + 360) % 360;
  return (rotate % 90 === 0 ? rotate : 0) as Rotation;
}

/**
 * The widget of an empty signature field: the named one, or (no name) the first empty one. Its
 * /Rect is kept unless it is empty (an invisible field), in which case undefined is returned and
 * the default spot is used with the field's name.
 */
async function emptyFieldWidget(
  doc: PdfDocument,
  fieldName: string | undefined,
): Promise<Placement | undefined> {
  const fields = (await signatureFields(doc)).filter((field) => !field.signed);
  const field =
    fieldName === undefined ? fields[0] : fields.find((candidate) => candidate.name === fieldName);
  if (!field) return undefined;
  const widget = await widgetOf(doc, field.dict, field.ref);
  const rect = normalizedBox(await doc.resolve(widget.dict.get("Rect")));
  if (!rect || rect[2] - rect[0] < 1 || rect[3] - rect[1] < 1) return undefined;
  const pageNumber = await pageOfWidget(doc, widget.dict, widget.ref);
  if (pageNumber === undefined) return undefined;
  const page = (await doc.page(pageNumber))!;
  const rotation = rotationOf(page);
  const turned = rotation === 90 || rotation === 270;
  const [x1, y1, x2, y2] = rect;
  return {
    page: pageNumber,
    rect,
    rotation,
    width: turned ? y2 - y1 : x2 - x1,
    height: turned ? x2 - x1 : y2 - y1,
    fieldName: field.name,
  };
}

async function pageOfWidget(
  doc: PdfDocument,
  widget: PdfDict,
  ref: PdfRef | undefined,
): Promise<number | undefined> {
  const owner = widget.get("P");
  const pages = await doc.pages();
  if (owner instanceof PdfRef) {
    const index = pages.findIndex((page) => page.ref.num === owner.num);
    if (index >= 0) return index + 1;
  }
  for (const [index, page] of pages.entries()) {
    for (const annot of (await doc.resolveArray(page.dict.get("Annots"))) ?? []) {
      if (annot instanceof PdfRef && annot.num === ref?.num) return index + 1;
    }
  }
  return undefined;
}
