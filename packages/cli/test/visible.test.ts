import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createTestPki, type TestPkiFiles, writeTestPki } from "@esign/pades/testing";
import {
  compareRenders,
  countPixels,
  failuresUnderRoots,
  type PixelBox,
  pixelBox,
  REPO_ROOT,
  renderPage,
  run,
  SAMPLES_DIR,
  textInRegion,
  validate,
} from "@esign/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { esign } from "./esign";

const APPEARANCE_FIXTURES = join(REPO_ROOT, "packages/appearance/test/fixtures");
const PDF_FIXTURES = join(REPO_ROOT, "packages/pdf/test/fixtures");
const CONTRACT = join(APPEARANCE_FIXTURES, "gs-contract.pdf");
const STAMP_PNG = join(APPEARANCE_FIXTURES, "stamp.png");
const STAMP_JPG = join(APPEARANCE_FIXTURES, "stamp.jpg");
const PASSWORD = "s3cret pass";
const CJK_LINE = "签名：张三（人事部）";
/** Greek with tonos: Noto Sans SC draws it as base letter + combining accent. */
const GREEK_LINE = "Υπογραφή: Ιωάννης";

let work: string;
let pki: TestPkiFiles;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "esign-visible-"));
  pki = await writeTestPki(await createTestPki({ intermediate: true }), join(work, "pki"), PASSWORD);
});

function signVisible(input: string, output: string, extra: string[]) {
  return esign([
    "sign",
    input,
    "-o",
    output,
    "--p12",
    pki.p12,
    "--password",
    PASSWORD,
    "--visible",
    ...extra,
  ]);
}

const isRed = (r: number, g: number, b: number) => r > 150 && g < 90 && b < 90;
const isDark = (r: number, g: number, b: number) => r < 100 && g < 100 && b < 100;

/**
 * Signs `input` visibly and checks, against a render of the unsigned page, that the seal changed
 * pixels inside `expectedRect` (visible-page points) and nowhere else; returns the signed path.
 */
async function expectSealAt(
  input: string,
  name: string,
  page: number,
  expectedRect: number[],
  flags: string[],
): Promise<{ output: string; pixels: PixelBox; height: number }> {
  const output = join(work, name);
  const result = await signVisible(input, output, flags);
  expect(result, result.stderr).toMatchObject({ code: 0 });
  const before = await renderPage(input, page);
  const after = await renderPage(output, page);
  const expected = pixelBox(after, expectedRect);
  const diff = compareRenders(before, after, expected);
  expect(diff.outside, `changed pixels outside ${expected}: box ${diff.box}`).toBe(0);
  // The frame is drawn along the rectangle's edges, so the changes span it.
  expect(diff.box).toBeDefined();
  for (const [index, value] of diff.box!.entries())
    expect(Math.abs(value - expected[index]!)).toBeLessThanOrEqual(2);
  const verdict = await validate(output, pki.rootPem);
  expect(verdict.failures, verdict.output).toEqual([]);
  return { output, pixels: expected, height: after.height };
}

describe("esign sign --visible", () => {
  it("draws a PNG seal with CJK and Latin text inside --rect on a real-world invoice", async () => {
    const input = join(SAMPLES_DIR, "chromium-invoice.pdf");
    const rect = [330, 60, 570, 150];
    const { output, pixels, height } = await expectSealAt(input, "invoice-seal.pdf", 1, rect, [
      ...["--rect", rect.join(","), "--image", STAMP_PNG],
      ...["--text", `Signed by {name}\\n${CJK_LINE}\\n${GREEK_LINE}\\nDate: {date}`],
    ]);
    const after = await renderPage(output, 1);
    // The stamp is on the left of the seal, the text on the right.
    const [left, top, right, bottom] = pixels;
    const middle = left + Math.round((right - left) * 0.4);
    expect(countPixels(after, [left, top, middle, bottom], isRed)).toBeGreaterThan(500);
    expect(countPixels(after, [middle, top, right, bottom], isDark)).toBeGreaterThan(100);
    const text = await textInRegion(output, 1, rect, height);
    expect(text).toContain("Signed by Test Signer");
    expect(text).toContain(CJK_LINE);
    expect(text).toContain(GREEK_LINE);
    expect(text).toMatch(/Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    // The font is an embedded subset with a ToUnicode map ("CID TrueType ... yes yes yes").
    const { stdout: fonts } = await run("pdffonts", [output]);
    expect(fonts).toMatch(/[A-Z]{6}\+NotoSansSC-Regular\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/);
  });

  it("embeds a JPEG seal as DCTDecode", async () => {
    const rect = [72, 500, 272, 580];
    const { output } = await expectSealAt(CONTRACT, "jpeg-seal.pdf", 1, rect, [
      ...["--page", "1", "--rect", rect.join(","), "--image", STAMP_JPG, "--text", "Approved"],
    ]);
    const after = await renderPage(output, 1);
    expect(countPixels(after, pixelBox(after, rect), isRed)).toBeGreaterThan(500);
    const { stdout } = await run("pdfimages", ["-list", output]);
    expect(stdout).toMatch(/\bjpeg\b/);
  });

  it("finds a text anchor on page 2 of a three-page contract and places the seal relative to it", async () => {
    // Ghostscript drew "{{seal}}" at x=300 on the baseline y=200 (Helvetica 14) on page 2 only.
    const offset = [0, -30];
    const size = [180, 60];
    const { output, height } = await expectSealAt(
      CONTRACT,
      "anchored.pdf",
      2,
      [300, 167, 480, 227],
      [...["--anchor", "{{seal}}", "--anchor-offset", offset.join(","), "--size", size.join(",")]],
    );
    expect(await textInRegion(output, 2, [300, 167, 480, 227], height)).toContain(
      "Digitally signed by Test Signer",
    );
    for (const page of [1, 3]) {
      const diff = compareRenders(
        await renderPage(CONTRACT, page),
        await renderPage(output, page),
        [0, 0, 0, 0],
      );
      expect(diff.changed).toBe(0);
    }
  });

  it.each([90, 270])(
    "places an upright seal where asked on a page shown rotated by %i degrees",
    async (rotation) => {
      const input = join(APPEARANCE_FIXTURES, `gs-contract-rotate${rotation}.pdf`);
      // The page is shown in landscape: 842 x 595 points.
      const rect = [560, 40, 800, 120];
      const { output, height } = await expectSealAt(input, `rotated-${rotation}.pdf`, 1, rect, [
        ...["--page", "1", "--rect", rect.join(","), "--text", `Signed by {name}\\n${CJK_LINE}`],
      ]);
      expect(height).toBe(595);
      expect(await textInRegion(output, 1, rect, height)).toContain(CJK_LINE);
      // Upright: poppler's word boxes for "Signed" are wider than tall in the shown page.
      const { stdout } = await run("pdftotext", ["-bbox", "-f", "1", "-l", "1", output, "-"]);
      const word =
        /<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">Signed<\/word>/.exec(stdout);
      expect(word, stdout).not.toBeNull();
      const [, xMin, yMin, xMax, yMax] = word!.map(Number);
      expect(xMax! - xMin!).toBeGreaterThan(yMax! - yMin!);
    },
  );

  it("takes coordinates relative to the visible area of a cropped page", async () => {
    const input = join(APPEARANCE_FIXTURES, "gs-cropped.pdf");
    // CropBox [100 150 500 700]: the visible page is 400 x 550 and starts at (100, 150).
    const rect = [10, 10, 210, 80];
    const { height } = await expectSealAt(input, "cropped.pdf", 1, rect, ["--rect", rect.join(",")]);
    expect(height).toBe(550);
  });

  it("fills an existing empty signature field, and the default spot is bottom-right of the last page", async () => {
    const input = join(PDF_FIXTURES, "pdflib-empty-sig-field.pdf");
    // The fixture's empty field ClientSignature has /Rect [50 100 250 150] on page 2.
    const { output } = await expectSealAt(
      input,
      "field.pdf",
      2,
      [50, 100, 250, 150],
      ["--text", "Signed by {name}"],
    );
    const { stdout } = await run("pdfsig", [output]);
    expect(stdout).toContain("ClientSignature");

    const page = await renderPage(CONTRACT, 3);
    await expectSealAt(
      CONTRACT,
      "default-spot.pdf",
      3,
      [page.width - 36 - 200, 36, page.width - 36, 106],
      [],
    );
  });

  it("adds a visible signature to an already-signed file and keeps the first signature valid", async () => {
    const input = join(SAMPLES_DIR, "already-signed-poppler.pdf");
    const output = join(work, "already-signed-visible.pdf");
    const result = await signVisible(input, output, ["--rect", "300,50,560,130", "--text", CJK_LINE]);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const verdict = await failuresUnderRoots(output, [
      pki.rootPem,
      join(SAMPLES_DIR, "already-signed-poppler.root.pem"),
    ]);
    expect(verdict.failures, verdict.output).toEqual([]);
    expect(verdict.output).toContain("sig#2");
  });

  it("adds a visible approval seal to a certified (DocMDP P=2) document: the certification reports allowed changes", async () => {
    const certified = join(work, "certified.pdf");
    const certifying = await esign([
      "sign",
      CONTRACT,
      "-o",
      certified,
      "--p12",
      pki.p12,
      "--password",
      PASSWORD,
      "--certify",
      "2",
    ]);
    expect(certifying, certifying.stderr).toMatchObject({ code: 0 });
    const output = join(work, "certified-visible.pdf");
    const result = await signVisible(certified, output, ["--anchor", "{{seal}}", "--image", STAMP_PNG]);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const verdict = await validate(output, pki.rootPem);
    expect(verdict.failures, verdict.output).toEqual([]);
    const report = JSON.parse((await esign(["verify", output, "--trust", pki.rootPem, "--json"])).stdout) as {
      signatures: Array<{
        fieldName: string;
        indication: string;
        modifications: string;
        changes: Array<{ kind: string; allowed: boolean }>;
      }>;
    };
    const [certification, approval] = report.signatures;
    expect(certification).toMatchObject({ indication: "TOTAL-PASSED", modifications: "allowed" });
    expect(certification!.changes.filter((change) => change.kind === "appearance").length).toBeGreaterThan(0);
    expect(certification!.changes.every((change) => change.allowed)).toBe(true);
    expect(approval).toMatchObject({ indication: "TOTAL-PASSED", modifications: "none" });
  });

  it("keeps three visible signatures in a row valid, each seal where it was put", async () => {
    let current = CONTRACT;
    const rects = [
      [50, 50, 200, 110],
      [220, 50, 370, 110],
      [390, 50, 540, 110],
    ];
    for (const [round, rect] of rects.entries()) {
      const next = join(work, `three-${round + 1}.pdf`);
      const result = await signVisible(current, next, [
        "--page",
        "3",
        "--rect",
        rect.join(","),
        "--image",
        STAMP_PNG,
      ]);
      expect(result, result.stderr).toMatchObject({ code: 0 });
      current = next;
    }
    const verdict = await validate(current, pki.rootPem);
    expect(verdict.failures, verdict.output).toEqual([]);
    expect(verdict.output.match(/openssl-cms\s+PASS/g)).toHaveLength(3);
    const after = await renderPage(current, 3);
    for (const rect of rects) expect(countPixels(after, pixelBox(after, rect), isRed)).toBeGreaterThan(200);
  });

  it("draws an anchored seal into an encrypted document, written encrypted, text extractable with the password", async () => {
    const encrypted = join(work, "contract-aes256.pdf");
    await run("qpdf", ["--encrypt", "user-pw", "owner-pw", "256", "--", CONTRACT, encrypted]);
    const output = join(work, "encrypted-visible.pdf");
    const result = await signVisible(encrypted, output, [
      ...["--pdf-password", "user-pw", "--anchor", "{{seal}}", "--text", `Signed by {name}\\n${CJK_LINE}`],
    ]);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const verdict = await validate(output, pki.rootPem, { pdfPassword: "user-pw" });
    expect(verdict.failures, verdict.output).toEqual([]);
    // "{{seal}}" is at x=300 on the baseline y=200 of page 2; the default seal is 200 x 70.
    expect(await textInRegion(output, 2, [300, 197, 500, 267], 842, "user-pw")).toContain(CJK_LINE);
    await expect(run("pdftotext", [output, "-"])).rejects.toThrow();
  });

  it("uses another font with --font", async () => {
    const fontDir = join(
      dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json")),
      "standard_fonts",
    );
    const output = join(work, "liberation.pdf");
    const result = await signVisible(CONTRACT, output, [
      ...[
        "--rect",
        "72,500,300,560",
        "--font",
        join(fontDir, "LiberationSans-Regular.ttf"),
        "--text",
        "Signed by {name}",
      ],
    ]);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const { stdout } = await run("pdffonts", [output]);
    expect(stdout).toMatch(/\+LiberationSans\s+CID TrueType/);
  });

  describe("refuses bad appearance input with E_APPEARANCE, writing nothing", () => {
    const cases: Array<[string, string[], RegExp]> = [
      [
        "an anchor that is not in the document",
        ["--anchor", "Nowhere to be found"],
        /anchor text "Nowhere to be found" was not found/,
      ],
      ["an anchor not on the given page", ["--anchor", "{{seal}}", "--page", "1"], /not found on page 1/],
      [
        "a page out of range",
        ["--page", "9", "--rect", "10,10,100,50"],
        /page 9 does not exist \(the document has 3\)/,
      ],
      [
        "a rectangle outside the page",
        ["--rect", "500,700,700,900"],
        /outside page 3, whose visible area is 0,0,595,842/,
      ],
      [
        "an unreadable image",
        ["--image", join(APPEARANCE_FIXTURES, "make-fixtures.sh")],
        /neither a PNG nor a JPEG/,
      ],
      [
        "a missing image file",
        ["--image", join(APPEARANCE_FIXTURES, "missing.png")],
        /cannot read the seal image/,
      ],
      ["a truncated PNG", ["--image", "TRUNCATED_PNG"], /seal image is unreadable/],
      [
        "text the font cannot show",
        ["--font", "LIBERATION", "--text", CJK_LINE],
        /has no glyph for '签' \(U\+7B7E\)/,
      ],
      ["an unknown template placeholder", ["--text", "Signed by {nmae}"], /unknown placeholder \{nmae\}/],
      [
        "text that cannot fit",
        ["--rect", "10,10,30,18", "--text", "A very long line that cannot fit"],
        /does not fit/,
      ],
    ];
    it.each(cases)("%s", async (_, flags, message) => {
      const truncated = join(work, "truncated.png");
      await writeFile(truncated, (await readFile(STAMP_PNG)).subarray(0, 200));
      const liberation = join(
        dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json")),
        "standard_fonts/LiberationSans-Regular.ttf",
      );
      const resolved = flags.map((flag) =>
        flag === "TRUNCATED_PNG" ? truncated : flag === "LIBERATION" ? liberation : flag,
      );
      const output = join(work, "refused.pdf");
      const result = await signVisible(CONTRACT, output, resolved);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: E_APPEARANCE: /);
      expect(result.stderr).toMatch(message);
      await expect(readFile(output)).rejects.toThrow();
    });

    it("appearance flags without --visible are a usage error", async () => {
      const result = await esign([
        "sign",
        CONTRACT,
        "-o",
        join(work, "x.pdf"),
        "--p12",
        pki.p12,
        "--rect",
        "1,2,3,4",
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: E_CONFIG: --rect describes a visible signature: add --visible/);
    });
  });
});
