import { type Box, type PlacedCharacter, pageCharacters } from "@esign/appearance";
import {
  asInteger,
  decodeStream,
  isName,
  PdfDict,
  type PdfDocument,
  type PdfObject,
  PdfRef,
  PdfStream,
  PdfString,
} from "@esign/pdf";

/**
 * Shadow attacks by overlay (Mainberger et al., NDSS 2021): an annotation added after signing, or
 * a form field prepared before signing and filled after it, whose appearance is drawn over text
 * the signer saw. DocMDP P=3 and approval signatures allow annotations and form filling; none
 * allows hiding what was signed. Judged by geometry: the characters of the signed page's text
 * (pdf.js, from the signed revision) whose centre lies inside the annotation's /Rect.
 */

/** The text the pages of the signed revision show, read on first need, page by page. */
export class SignedText {
  private pageNumbers: Promise<Map<number, number>> | undefined;
  private readonly pages = new Map<number, Promise<PlacedCharacter[]>>();
  constructor(
    private readonly signed: PdfDocument,
    private readonly password: string | undefined,
  ) {}

  /** The characters shown on the page with object number `pageObject` (none for a page added later). */
  async on(pageObject: number): Promise<PlacedCharacter[]> {
    this.pageNumbers ??= this.signed
      .pages()
      .then((pages) => new Map(pages.map((page, index) => [page.ref.num, index + 1])));
    const number = (await this.pageNumbers).get(pageObject);
    if (number === undefined) return [];
    let characters = this.pages.get(number);
    if (!characters) {
      characters = pageCharacters(this.signed.source, [number], this.password).then(
        (found) => found.get(number) ?? [],
      );
      this.pages.set(number, characters);
    }
    return characters;
  }

  /** 1-based number of a page of the signed revision, for messages. */
  async pageNumber(pageObject: number): Promise<number | undefined> {
    await this.on(pageObject);
    return (await this.pageNumbers!).get(pageObject);
  }
}

/** Drawn over text on purpose and translucent (text markup), or not drawn on the page. */
const SEE_THROUGH = new Set(["Highlight", "Underline", "Squiggly", "StrikeOut", "Link", "Popup"]);
/** Drawn by viewers without an appearance stream (from /DA, /IC or a stamp name). */
const DRAWN_WITHOUT_APPEARANCE = new Set(["FreeText", "Stamp", "Redact"]);
/** Annotation flags Hidden (2) and NoView (32): not drawn. */
const NOT_DRAWN = 2 | 32;
/** Content operators that cover what is under them: fills, shadings, XObjects, inline images, text. */
const PAINTING = new Set(["f", "F", "f*", "B", "B*", "b", "b*", "sh", "Do", "BI", "Tj", "TJ", "'", '"']);
const MAX_APPEARANCE_BYTES = 4 * 1024 * 1024;
/** How much of the hidden text a message quotes. */
const QUOTED = 60;

/** The operators of a content stream, strings, names and numbers skipped. */
function operators(content: string): Set<string> {
  const bare = content
    .replace(/\((?:\\[\s\S]|[^\\()])*\)/g, " ")
    .replace(/<[0-9A-Fa-f\s]*>/g, " ")
    .replace(/%[^\r\n]*/g, " ")
    .replace(/\/[^\s/[\]<>{}()%]*/g, " ");
  return new Set(bare.split(/[\s[\]<>{}/()]+/).filter((token) => token !== "" && !/^[-+.\d]/.test(token)));
}

async function paints(doc: PdfDocument, appearance: PdfStream): Promise<boolean> {
  const data = decodeStream(appearance.dict, await doc.streamBytes(appearance), MAX_APPEARANCE_BYTES);
  return [...operators(Buffer.from(data).toString("latin1"))].some((operator) => PAINTING.has(operator));
}

/** The stream drawn for an annotation in its current state: /AP /N, or its /AS entry. */
async function normalAppearance(doc: PdfDocument, annotation: PdfDict): Promise<PdfStream | undefined> {
  const appearances = await doc.resolveDict(annotation.get("AP"));
  const normal = await doc.resolve(appearances?.get("N"));
  if (normal instanceof PdfStream) return normal;
  const state = annotation.get("AS");
  if (normal instanceof PdfDict && isName(state)) {
    const drawn = await doc.resolve(normal.get(state.name));
    return drawn instanceof PdfStream ? drawn : undefined;
  }
  return undefined;
}

/**
 * A widget without an appearance stream is drawn by viewers that make one (/NeedAppearances):
 * its value as text, and its /MK background. An empty field without a background shows nothing.
 */
async function widgetDrawnWithoutAppearance(doc: PdfDocument, widget: PdfDict): Promise<boolean> {
  const look = await doc.resolveDict(widget.get("MK"));
  if (look?.has("BG")) return true;
  const field = widget.has("V") ? widget : await doc.resolveDict(widget.get("Parent"));
  const value = await doc.resolve(field?.get("V"));
  return value instanceof PdfString ? value.bytes.length > 0 : value !== undefined && value !== null;
}

async function rectOf(doc: PdfDocument, annotation: PdfDict): Promise<Box | undefined> {
  const values = (await doc.resolveArray(annotation.get("Rect"))) ?? [];
  const numbers = await Promise.all(values.map((value) => doc.resolve(value)));
  if (numbers.length !== 4 || !numbers.every((value) => typeof value === "number")) return undefined;
  const [x0, y0, x1, y1] = numbers as number[];
  return [Math.min(x0!, x1!), Math.min(y0!, y1!), Math.max(x0!, x1!), Math.max(y0!, y1!)];
}

/** The page an annotation sits on: its /P, else the page whose /Annots lists it. */
export async function pageOfAnnotation(
  doc: PdfDocument,
  annotation: number,
  dict: PdfDict,
): Promise<number | undefined> {
  const page = dict.get("P");
  if (page instanceof PdfRef) return page.num;
  for (const candidate of await doc.pages()) {
    const annots: PdfObject[] = (await doc.resolveArray(candidate.dict.get("Annots"))) ?? [];
    if (annots.some((item) => item instanceof PdfRef && item.num === annotation)) return candidate.ref.num;
  }
  return undefined;
}

/**
 * What an annotation or widget (`annotation`, object `num` of `doc`) hides of the signed text:
 * the characters its rectangle covers, when it is drawn and its appearance (`appearance`, else
 * its normal appearance) paints rather than only strokes. Undefined when it hides nothing.
 */
export async function hiddenSignedText(
  doc: PdfDocument,
  num: number,
  annotation: PdfDict,
  signedText: SignedText,
  appearance?: PdfStream,
): Promise<{ page: number; text: string } | undefined> {
  const subtype = annotation.get("Subtype");
  if (isName(subtype) && SEE_THROUGH.has(subtype.name)) return undefined;
  if (((asInteger(annotation.get("F")) ?? 0) & NOT_DRAWN) !== 0) return undefined;
  const rect = await rectOf(doc, annotation);
  if (!rect || rect[2] - rect[0] <= 0 || rect[3] - rect[1] <= 0) return undefined;
  const drawn = appearance ?? (await normalAppearance(doc, annotation));
  const opaque = drawn
    ? await paints(doc, drawn)
    : isName(subtype, "Widget")
      ? await widgetDrawnWithoutAppearance(doc, annotation)
      : isName(subtype) && DRAWN_WITHOUT_APPEARANCE.has(subtype.name);
  if (!opaque) return undefined;
  const page = await pageOfAnnotation(doc, num, annotation);
  if (page === undefined) return undefined;
  const covered = (await signedText.on(page)).filter(({ box }) => {
    const x = (box[0] + box[2]) / 2;
    const y = (box[1] + box[3]) / 2;
    return x >= rect[0] && x <= rect[2] && y >= rect[1] && y <= rect[3];
  });
  const text = covered
    .map(({ char }) => char)
    .join("")
    .trim();
  if (text === "") return undefined;
  return {
    page: (await signedText.pageNumber(page)) ?? 0,
    text: text.length > QUOTED ? `${text.slice(0, QUOTED)}…` : text,
  };
}
