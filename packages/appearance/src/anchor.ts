import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { EsignError } from "@esign/errors";
import type { ByteSource } from "@esign/pdf";

export type Box = [number, number, number, number];

export interface TextMatch {
  /** 1-based page of the first occurrence. */
  page: number;
  /** Bounding box of the matched text in the page's user space (unrotated, uncropped). */
  box: Box;
}

type PdfJs = typeof import("pdfjs-dist/legacy/build/pdf.mjs");
let pdfjs: Promise<PdfJs> | undefined;

/** Loaded on first use: the text extractor is large and only anchored seals need it. */
function loadPdfJs(): Promise<PdfJs> {
  pdfjs ??= import("pdfjs-dist/legacy/build/pdf.mjs");
  return pdfjs;
}

/** Folders pdf.js reads CMaps (CJK fonts without ToUnicode) and standard font metrics from. */
function pdfJsDataUrl(folder: string): string {
  const packageJson = createRequire(import.meta.url).resolve("pdfjs-dist/package.json");
  return `${join(dirname(packageJson), folder)}/`;
}

type TextItem = import("pdfjs-dist/types/src/display/api").TextItem;
type PdfJsDocument = import("pdfjs-dist/types/src/display/api").PDFDocumentProxy;

/**
 * Opens the document with pdf.js, reading it through `source` by ranges (a large file is not
 * loaded whole), and hands it to `use`; errors other than ours become E_APPEARANCE.
 */
async function withPdfJs<T>(
  source: ByteSource,
  password: string | undefined,
  use: (document: PdfJsDocument) => Promise<T>,
): Promise<T> {
  const { getDocument, PDFDataRangeTransport } = await loadPdfJs();
  const transport = new PDFDataRangeTransport(source.size, null);
  transport.requestDataRange = (begin: number, end: number) => {
    source.read(begin, end - begin).then(
      // pdf.js transfers the chunk's buffer to its worker, detaching it: hand over a copy, never
      // a view into the source's own memory (a whole-file buffer, a block cache).
      (chunk) => transport.onDataRange(begin, Uint8Array.from(chunk)),
      () => transport.onDataRange(begin, new Uint8Array(0)),
    );
  };
  const loading = getDocument({
    range: transport,
    length: source.size,
    password,
    disableAutoFetch: true,
    disableStream: true,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: 0,
    cMapUrl: pdfJsDataUrl("cmaps"),
    cMapPacked: true,
    standardFontDataUrl: pdfJsDataUrl("standard_fonts"),
  });
  try {
    return await use(await loading.promise);
  } catch (cause) {
    if (cause instanceof EsignError) throw cause;
    throw new EsignError(
      "E_APPEARANCE",
      `cannot read the text of the document: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  } finally {
    await loading.destroy();
  }
}

/**
 * Finds `needle` in the text of the document (only on `page` when given) with pdf.js's text
 * extraction. The text of a page is its text items joined in content order, so a word split
 * across items ("Signa" + "ture:") is still found; line ends separate items that end a line.
 */
export async function findText(
  source: ByteSource,
  needle: string,
  page?: number,
  /** The password of an encrypted document. */
  password?: string,
): Promise<TextMatch | undefined> {
  if (needle.trim() === "") throw new EsignError("E_APPEARANCE", "the anchor text is empty");
  return withPdfJs(source, password, async (document) => {
    const pages = page === undefined ? [...Array(document.numPages).keys()].map((i) => i + 1) : [page];
    for (const number of pages) {
      const content = await (await document.getPage(number)).getTextContent();
      const items = content.items.filter((item): item is TextItem => "str" in item);
      const box = locate(items, needle);
      if (box) return { page: number, box };
    }
    return undefined;
  });
}

/** One character of a page's text and where it is drawn. */
export interface PlacedCharacter {
  char: string;
  /** In the page's user space (unrotated, uncropped). */
  box: Box;
}

/**
 * Every character of the text pdf.js extracts from each of `pages` (1-based), with its box (the
 * characters of a text item taken as equally wide): what a page shows as text, for checking
 * what an annotation covers.
 */
export function pageCharacters(
  source: ByteSource,
  pages: number[],
  password?: string,
): Promise<Map<number, PlacedCharacter[]>> {
  return withPdfJs(source, password, async (document) => {
    const characters = new Map<number, PlacedCharacter[]>();
    for (const number of pages) {
      if (number < 1 || number > document.numPages) continue;
      const content = await (await document.getPage(number)).getTextContent();
      const placed: PlacedCharacter[] = [];
      for (const item of content.items) {
        if (!("str" in item)) continue;
        [...item.str].forEach((char, index) => {
          placed.push({ char, box: boxBetween(pointAlong(item, index), pointAlong(item, index + 1)) });
        });
      }
      characters.set(number, placed);
    }
    return characters;
  });
}

function locate(items: TextItem[], needle: string): Box | undefined {
  let text = "";
  const starts: number[] = [];
  for (const item of items) {
    starts.push(text.length);
    text += item.str + (item.hasEOL ? "\n" : "");
  }
  const at = text.indexOf(needle);
  if (at < 0) return undefined;
  const itemAt = (offset: number) => {
    let index = 0;
    while (index + 1 < items.length && starts[index + 1]! <= offset) index++;
    return index;
  };
  const first = itemAt(at);
  const last = itemAt(at + needle.length - 1);
  const start = pointAlong(items[first]!, at - starts[first]!);
  const end = pointAlong(items[last]!, Math.min(at + needle.length - starts[last]!, items[last]!.str.length));
  return boxBetween(start, end);
}

type BaselinePoint = ReturnType<typeof pointAlong>;

/** The box of text between two baseline points: the text's height above the baseline, and a fifth below for descenders. */
function boxBetween(start: BaselinePoint, end: BaselinePoint): Box {
  const corners = [start, end].flatMap(({ x, y, up }) => [
    [x + up[0] * 1.0, y + up[1] * 1.0],
    [x - up[0] * 0.2, y - up[1] * 0.2],
  ]);
  const xs = corners.map(([x]) => x!);
  const ys = corners.map(([, y]) => y!);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** The point `chars` characters into `item` along its baseline (characters taken as equally wide). */
function pointAlong(item: TextItem, chars: number): { x: number; y: number; up: [number, number] } {
  const [a = 1, b = 0, c = 0, d = 1, e = 0, f = 0] = item.transform;
  const along = Math.hypot(a, b) || 1;
  const across = Math.hypot(c, d) || 1;
  const fraction = item.str.length > 0 ? chars / item.str.length : 0;
  const height = item.height || across;
  return {
    x: e + (a / along) * item.width * fraction,
    y: f + (b / along) * item.width * fraction,
    up: [(c / across) * height, (d / across) * height],
  };
}
