import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./index";

/** A page as poppler shows it (rotation and crop box applied), one pixel per point, RGB. */
export interface RenderedPage {
  width: number;
  height: number;
  /** RGB triplets, row by row from the top. */
  pixels: Uint8Array;
}

/** Pixel box: left, top, right, bottom (exclusive), from the top-left of the rendered page. */
export type PixelBox = [number, number, number, number];

/** Renders the visible area (crop box) of one page with pdftoppm at 72 dpi: one pixel per point. */
export async function renderPage(pdf: string, page: number): Promise<RenderedPage> {
  const dir = await mkdtemp(join(tmpdir(), "esign-render-"));
  try {
    const base = join(dir, "page");
    const pages = ["-f", String(page), "-l", String(page)];
    await run("pdftoppm", ["-cropbox", "-r", "72", ...pages, "-singlefile", pdf, base]);
    const ppm = await readFile(`${base}.ppm`);
    // P6 header: magic, width, height, maxval, then one whitespace byte before the samples.
    const header = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(ppm.subarray(0, 64).toString("latin1"));
    if (!header) throw new Error("pdftoppm did not write a binary PPM");
    const [whole, width, height] = header;
    return { width: Number(width), height: Number(height), pixels: ppm.subarray(whole.length) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Where two renders of the same page differ: the bounding box of the changed pixels, and how many
 * changed pixels fall outside `expected` (grown by `margin` for anti-aliasing).
 */
export function compareRenders(
  before: RenderedPage,
  after: RenderedPage,
  expected: PixelBox,
  margin = 2,
): { changed: number; outside: number; box: PixelBox | undefined } {
  if (before.width !== after.width || before.height !== after.height) {
    throw new Error(`page size changed: ${before.width}x${before.height} → ${after.width}x${after.height}`);
  }
  let changed = 0;
  let outside = 0;
  let box: PixelBox | undefined;
  const [left, top, right, bottom] = expected;
  for (let y = 0; y < after.height; y++) {
    for (let x = 0; x < after.width; x++) {
      const i = (y * after.width + x) * 3;
      const differs =
        before.pixels[i] !== after.pixels[i] ||
        before.pixels[i + 1] !== after.pixels[i + 1] ||
        before.pixels[i + 2] !== after.pixels[i + 2];
      if (!differs) continue;
      changed++;
      if (x < left - margin || x >= right + margin || y < top - margin || y >= bottom + margin) outside++;
      box = box
        ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x + 1), Math.max(box[3], y + 1)]
        : [x, y, x + 1, y + 1];
    }
  }
  return { changed, outside, box };
}

/** Pixels inside `box` whose colour passes `test` (e.g. "clearly red"). */
export function countPixels(
  page: RenderedPage,
  box: PixelBox,
  test: (r: number, g: number, b: number) => boolean,
): number {
  let count = 0;
  for (let y = Math.max(0, box[1]); y < Math.min(page.height, box[3]); y++) {
    for (let x = Math.max(0, box[0]); x < Math.min(page.width, box[2]); x++) {
      const i = (y * page.width + x) * 3;
      if (test(page.pixels[i]!, page.pixels[i + 1]!, page.pixels[i + 2]!)) count++;
    }
  }
  return count;
}

/**
 * A rectangle of the visible page in points (origin bottom-left, y up, as `--rect` takes it) as
 * a pixel box of a 72 dpi render (origin top-left, y down).
 */
export function pixelBox(page: RenderedPage, [x1, y1, x2, y2]: number[]): PixelBox {
  return [Math.round(x1!), Math.round(page.height - y2!), Math.round(x2!), Math.round(page.height - y1!)];
}

/** The text poppler extracts from a region of the visible page (points, origin bottom-left). */
export async function textInRegion(
  pdf: string,
  page: number,
  rect: number[],
  pageHeight: number,
  /** User password of an encrypted file. */
  password?: string,
): Promise<string> {
  const [x1, y1, x2, y2] = rect as [number, number, number, number];
  const { stdout } = await run("pdftotext", [
    "-cropbox",
    ...(password === undefined ? [] : ["-upw", password]),
    ...["-f", String(page), "-l", String(page), "-r", "72"],
    ...["-x", String(Math.floor(x1)), "-y", String(Math.floor(pageHeight - y2))],
    ...["-W", String(Math.ceil(x2 - x1)), "-H", String(Math.ceil(y2 - y1))],
    pdf,
    "-",
  ]);
  return stdout;
}
