import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { SAMPLES_DIR } from "@esign/testkit";
import {
  concatTransformationMatrix,
  drawObject,
  PDFDocument,
  type PDFFont,
  type PDFPage,
  popGraphicsState,
  pushGraphicsState,
  StandardFonts,
} from "pdf-lib";

const run = promisify(execFile);

export interface BenchInput {
  id: string;
  /** How the table names it. */
  label: string;
  path: string;
  /** Runs per tool, each in a fresh process; the median is reported. */
  runs: number;
  /** Signings in one more process, whose later ones show a warm, long-running worker. */
  warmRepeats?: number;
}

const WARM_REPEATS = 11;
const BIG_TARGET_BYTES = 300 * 1024 * 1024;
/** Pages per part of the big file; each page carries ~1 MB of incompressible image data. */
const PAGES_PER_PART = 10;
const IMAGE_WIDTH = 1000;
const IMAGE_HEIGHT = 350;

/**
 * The benchmark's inputs, written once into `directory` and reused (the 300 MB file takes a
 * while). Every file has a classic xref table, so @signpdf's plain parser gets its chance.
 */
export async function ensureInputs(directory: string): Promise<BenchInput[]> {
  await mkdir(directory, { recursive: true });
  const onePage = join(directory, "1-page.pdf");
  const thousandPages = join(directory, "1000-pages.pdf");
  const big = join(directory, "300mb-concatenated.pdf");
  if (!existsSync(onePage)) await writeFile(onePage, await textPdf(1));
  if (!existsSync(thousandPages)) await writeFile(thousandPages, await textPdf(1000));
  if (!existsSync(big)) await concatenateToSize(directory, big, BIG_TARGET_BYTES);
  return [
    { id: "1-page", label: "1 page", path: onePage, runs: 5, warmRepeats: WARM_REPEATS },
    { id: "1000-pages", label: "1,000 pages", path: thousandPages, runs: 3, warmRepeats: WARM_REPEATS },
    {
      id: "xref-stream",
      label: "extra: pdfTeX sample with xref stream (41 KB)",
      path: join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf"),
      runs: 5,
      warmRepeats: WARM_REPEATS,
    },
    {
      id: "300mb",
      label: `${await megabytes(big)} MB, ${await pageCount(big)} pages (qpdf concatenation)`,
      path: big,
      runs: 2,
    },
  ];
}

async function textPdf(pages: number): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let number = 1; number <= pages; number++) addTextPage(doc, font, number, pages);
  return doc.save({ useObjectStreams: false });
}

function addTextPage(doc: PDFDocument, font: PDFFont, number: number, of: number): PDFPage {
  const page = doc.addPage([595, 842]);
  page.drawText(`esign-agent benchmark document, page ${number} of ${of}`, { x: 50, y: 780, size: 14, font });
  return page;
}

/** One part: pages with random (incompressible) RGB images, so the concatenation grows fast. */
async function imagePdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let number = 1; number <= PAGES_PER_PART; number++) {
    const image = doc.context.register(
      doc.context.stream(randomBytes(IMAGE_WIDTH * IMAGE_HEIGHT * 3), {
        Type: "XObject",
        Subtype: "Image",
        Width: IMAGE_WIDTH,
        Height: IMAGE_HEIGHT,
        ColorSpace: "DeviceRGB",
        BitsPerComponent: 8,
      }),
    );
    const page = addTextPage(doc, font, number, PAGES_PER_PART);
    const name = page.node.newXObject("Noise", image);
    page.pushOperators(
      pushGraphicsState(),
      concatTransformationMatrix(495, 0, 0, 173, 50, 500),
      drawObject(name),
      popGraphicsState(),
    );
  }
  return doc.save({ useObjectStreams: false });
}

/**
 * `qpdf --empty --pages part ... -- out.pdf` with as many parts as it takes to reach `target`.
 * qpdf shares the objects of a file named twice, so each part is a differently named symlink.
 */
async function concatenateToSize(directory: string, out: string, target: number): Promise<void> {
  const partsDirectory = join(directory, "parts");
  await rm(partsDirectory, { recursive: true, force: true });
  await mkdir(partsDirectory);
  const part = join(partsDirectory, "part.pdf");
  await writeFile(part, await imagePdf());
  const count = Math.ceil(target / (await stat(part)).size);
  const links = Array.from({ length: count }, (_, index) => join(partsDirectory, `copy-${index}.pdf`));
  await Promise.all(links.map((link) => symlink(part, link)));
  await run("qpdf", ["--empty", "--pages", ...links, "--", out]);
  await rm(partsDirectory, { recursive: true });
}

async function megabytes(path: string): Promise<number> {
  return Math.round((await stat(path)).size / 1e6);
}

async function pageCount(path: string): Promise<number> {
  const { stdout } = await run("qpdf", ["--show-npages", path]);
  return Number(stdout.trim());
}
