import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { deflateSync } from "node:zlib";
import { EsignError } from "@esign/errors";
import { type IncrementalUpdate, name, PdfDict, type PdfRef, PdfStream, PdfString } from "@esign/pdf";
import { SubsetterFace } from "./hb-subset";

/**
 * The default appearance font: Noto Sans SC Regular (SIL OFL 1.1), installed with the
 * `@expo-google-fonts/noto-sans-sc` package. One TrueType file covering Latin, Greek, Cyrillic,
 * Chinese and Japanese kana; see docs/decisions.md.
 */
function defaultFontPath(): string {
  return createRequire(import.meta.url).resolve(
    "@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf",
  );
}

/** PDF glyph space: widths and metrics are in thousandths of the font size. */
const GLYPH_SPACE = 1000;

export interface ShapedGlyph {
  /** CID = glyph index in the embedded subset (CIDToGIDMap /Identity). */
  cid: number;
  /** Advance after shaping (kerning included), in glyph space. */
  advance: number;
  /** Horizontal shift of the glyph from its pen position (marks), in glyph space. */
  xOffset: number;
}

export interface ShapedLine {
  text: string;
  glyphs: ShapedGlyph[];
  /** Sum of the advances, in glyph space. */
  width: number;
  /**
   * Glyph ranges [start, end) whose text is given as /ActualText: a letter drawn as base + mark,
   * which extractors would otherwise split (one CID has one /ToUnicode meaning, and a base letter
   * also stands alone elsewhere).
   */
  actualTexts: Array<{ start: number; end: number; text: string }>;
}

const loaded = new Map<string, Promise<AppearanceFont>>();

type HarfBuzz = typeof import("harfbuzzjs");
let harfbuzz: Promise<HarfBuzz> | undefined;

/** harfbuzzjs compiles its wasm when imported: only processes that draw appearances pay for it. */
function loadHarfBuzz(): Promise<HarfBuzz> {
  harfbuzz ??= import("harfbuzzjs");
  return harfbuzz;
}

/** Characters every seal date uses: always in the subset, so a new date does not make a new subset. */
const DATE_CHARACTERS = "0123456789-: UTC";
/** Subsets kept per font: a profile's seal with the same signer reuses its subset signature after signature. */
const SUBSET_CACHE_SIZE = 32;

/**
 * A TrueType or OpenType font (file or collection member) ready to be subset for appearances.
 * Loaded once per file and process: the program stays in the subsetter's memory.
 */
export class AppearanceFont {
  private readonly subsets = new Map<string, Promise<SubsetProgram>>();

  private constructor(
    private readonly face: SubsetterFace,
    readonly path: string,
    /** CFF outlines embed as an OpenType /FontFile3, which PDF/A-1 (PDF 1.4) does not know. */
    readonly cffOutlines: boolean,
  ) {}

  /** `path` undefined: the default font. Unreadable files and non-fonts are E_APPEARANCE. */
  static open(path: string = defaultFontPath(), faceIndex = 0): Promise<AppearanceFont> {
    const key = `${path}#${faceIndex}`;
    let font = loaded.get(key);
    if (!font) {
      font = (async () => {
        const bytes = await readFile(path).catch((cause: unknown) => {
          throw new EsignError("E_APPEARANCE", `cannot read the font ${path}: ${(cause as Error).message}`, {
            cause,
          });
        });
        if (!isFontProgram(bytes)) {
          throw new EsignError("E_APPEARANCE", `${path} is not a TrueType or OpenType font`);
        }
        return new AppearanceFont(
          await SubsetterFace.load(bytes, faceIndex),
          path,
          sfntTag(bytes, faceIndex) === "OTTO",
        );
      })();
      font.catch(() => loaded.delete(key));
      loaded.set(key, font);
    }
    return font;
  }

  /**
   * Subsets the font to the characters of `lines` and shapes each line with the subset (so glyph
   * indices are the subset's, which become the CIDs). A character the font has no glyph for is
   * E_APPEARANCE: a seal that silently drops part of a name is worse than no seal.
   */
  async shape(lines: string[]): Promise<SubsetFont> {
    const codePoints = new Set<number>();
    // With each character, its canonical decomposition: for a precomposed letter the font lacks
    // (Greek with tonos in Noto Sans SC), HarfBuzz draws base letter and combining mark instead.
    for (const char of [...lines, DATE_CHARACTERS].join("")) {
      for (const part of `${char}${char.normalize("NFD")}`) codePoints.add(part.codePointAt(0)!);
    }
    const key = [...codePoints].sort((a, b) => a - b).join(",");
    let subset = this.subsets.get(key);
    if (subset) {
      this.subsets.delete(key); // most recently used goes last
    } else {
      subset = loadHarfBuzz().then((hb) => new SubsetProgram(hb, this.face.subset(codePoints)));
      subset.catch(() => this.subsets.delete(key));
      if (this.subsets.size >= SUBSET_CACHE_SIZE) this.subsets.delete(this.subsets.keys().next().value!);
    }
    this.subsets.set(key, subset);
    return new SubsetFont(await subset, lines);
  }
}

/** The sfnt version tag of the font (of collection member `faceIndex` in a 'ttcf' collection). */
function sfntTag(bytes: Uint8Array, faceIndex: number): string {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = view.toString("latin1", 0, 4);
  if (tag !== "ttcf" || view.length < 16 + 4 * faceIndex) return tag;
  const member = view.readUInt32BE(12 + 4 * faceIndex);
  return member + 4 <= view.length ? view.toString("latin1", member, member + 4) : tag;
}

/** sfnt version tags: TrueType outlines, 'true' (old Apple), OpenType/CFF, collection. */
function isFontProgram(bytes: Uint8Array): boolean {
  const tag = Buffer.from(bytes.subarray(0, 4)).toString("latin1");
  return ["\x00\x01\x00\x00", "true", "OTTO", "ttcf"].includes(tag);
}

/** A subset font program with what drawing and embedding need from it: a HarfBuzz font and metrics. */
class SubsetProgram {
  readonly font: import("harfbuzzjs").Font;
  readonly postScriptName: string;
  /** Ascender and descender (negative), in glyph space. */
  readonly ascent: number;
  readonly descent: number;
  readonly bbox: [number, number, number, number];
  readonly glyphCount: number;
  readonly isCff: boolean;
  private readonly scale: number;

  constructor(
    readonly hb: HarfBuzz,
    readonly program: Uint8Array,
  ) {
    const face = new hb.Face(new hb.Blob(program));
    this.font = new hb.Font(face);
    this.scale = GLYPH_SPACE / face.upem;
    this.postScriptName = sanitizeName(face.getName(6, "en") || "Font");
    const extents = this.font.hExtents();
    this.ascent = this.toGlyphSpace(extents.ascender);
    this.descent = this.toGlyphSpace(extents.descender);
    const head = face.referenceTable("head");
    const maxp = face.referenceTable("maxp");
    if (!head || !maxp) throw new EsignError("E_APPEARANCE", "the font has no head or maxp table");
    const headView = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const [xMin, yMin, xMax, yMax] = [36, 38, 40, 42].map((offset) =>
      this.toGlyphSpace(headView.getInt16(offset)),
    );
    this.bbox = [xMin!, yMin!, xMax!, yMax!];
    this.glyphCount = new DataView(maxp.buffer, maxp.byteOffset, maxp.byteLength).getUint16(4);
    this.isCff = face.referenceTable("CFF ") !== undefined;
  }

  toGlyphSpace(value: number): number {
    return Math.round(value * this.scale);
  }

  private compressed: Uint8Array | undefined;

  /** The program as the /FontFile2 (or /FontFile3) stream stores it, compressed once per subset. */
  get compressedProgram(): Uint8Array {
    this.compressed ??= deflateSync(this.program);
    return this.compressed;
  }
}

/** A font subset for one appearance, with its lines shaped. */
export class SubsetFont {
  readonly lines: ShapedLine[];
  readonly ascent: number;
  readonly descent: number;
  private readonly widths = new Map<number, number>();
  private readonly unicode = new Map<number, string>();

  constructor(
    private readonly subset: SubsetProgram,
    texts: string[],
  ) {
    const { hb, font } = subset;
    this.ascent = subset.ascent;
    this.descent = subset.descent;
    this.lines = texts.map((text) => {
      const buffer = new hb.Buffer();
      buffer.addText(text);
      buffer.guessSegmentProperties();
      hb.shape(font, buffer);
      const shaped = buffer.getGlyphInfosAndPositions();
      // Clusters are UTF-16 offsets into `text`; a cluster's text runs to the next cluster start.
      const starts = [...new Set(shaped.map((glyph) => glyph.cluster))].sort((a, b) => a - b);
      const glyphs: ShapedGlyph[] = [];
      const actualTexts: ShapedLine["actualTexts"] = [];
      for (let first = 0; first < shaped.length; ) {
        const cluster = shaped[first]!.cluster;
        let after = first;
        while (after < shaped.length && shaped[after]!.cluster === cluster) after++;
        const clusterText = text.slice(cluster, starts[starts.indexOf(cluster) + 1] ?? text.length);
        // One glyph per character of the decomposed text (a letter drawn as base + mark): each
        // glyph stands for its own character; otherwise (a ligature) the first for all of them.
        const parts = [...clusterText.normalize("NFD")];
        const perGlyph = parts.length === after - first;
        for (let index = first; index < after; index++) {
          const glyph = shaped[index]!;
          const cid = glyph.codepoint;
          if (cid === 0) throw missingGlyph(text, cluster, subset.postScriptName);
          this.widths.set(cid, subset.toGlyphSpace(font.glyphHAdvance(cid)));
          const meaning = perGlyph ? parts[index - first]! : index === first ? clusterText : "";
          if (meaning && !this.unicode.has(cid)) this.unicode.set(cid, meaning);
          const shapedGlyph = {
            cid,
            advance: subset.toGlyphSpace(glyph.xAdvance ?? 0),
            xOffset: subset.toGlyphSpace(glyph.xOffset ?? 0),
          };
          // A combining mark HarfBuzz left where it was (the font has no mark positioning for it,
          // and harfbuzzjs is built without HarfBuzz's fallback positioning): centre its ink over
          // the ink of its base letter, as that fallback would. It is drawn before the base, with
          // no advance, so the cluster still ends where the base does (extractors take the last
          // glyph's end for the end of the /ActualText, and would see a gap after the letter).
          const base = glyphs.at(-1);
          const unpositioned = !glyph.xOffset && !glyph.yOffset;
          const baseInk = base && font.glyphExtents(base.cid);
          const markInk = font.glyphExtents(cid);
          if (perGlyph && index > first && baseInk && markInk && /\p{M}/u.test(meaning) && unpositioned) {
            const centre = (ink: { xBearing: number; width: number }) => ink.xBearing + ink.width / 2;
            shapedGlyph.xOffset = subset.toGlyphSpace(centre(baseInk) - centre(markInk));
            shapedGlyph.advance = 0;
            // Zero-width in /W too; drawing does not depend on /W (every glyph is moved to its
            // shaped position explicitly).
            this.widths.set(cid, 0);
            glyphs.splice(glyphs.length - 1, 0, shapedGlyph);
          } else {
            glyphs.push(shapedGlyph);
          }
        }
        if (perGlyph && after - first > 1) actualTexts.push({ start: first, end: after, text: clusterText });
        first = after;
      }
      return { text, glyphs, width: glyphs.reduce((sum, glyph) => sum + glyph.advance, 0), actualTexts };
    });
  }

  /**
   * The operators that show one line: TJ with CIDs as 2-byte hex and adjustments wherever shaping
   * moved a glyph away from its nominal /W advance (kerning, marks); base + mark clusters inside
   * /Span << /ActualText >> marked content.
   */
  showText(line: ShapedLine): string {
    const operators: string[] = [];
    let parts: string[] = [];
    let run = "";
    const flushRun = () => {
      if (run) parts.push(`<${run}>`);
      run = "";
    };
    const flushArray = () => {
      flushRun();
      if (parts.length > 0) operators.push(`[${parts.join(" ")}] TJ`);
      parts = [];
    };
    const adjust = (amount: number) => {
      if (amount === 0) return;
      flushRun();
      // TJ numbers move the pen left by n/1000 of the font size.
      parts.push(String(-amount));
    };
    const spans = new Map(line.actualTexts.map((span) => [span.start, span]));
    let openUntil = -1;
    line.glyphs.forEach((glyph, index) => {
      const span = spans.get(index);
      if (span) {
        flushArray();
        operators.push(`/Span <</ActualText <FEFF${utf16Hex(span.text)}>>> BDC`);
        openUntil = span.end;
      }
      adjust(glyph.xOffset);
      run += glyph.cid.toString(16).padStart(4, "0");
      adjust(glyph.advance - this.widths.get(glyph.cid)! - glyph.xOffset);
      if (index + 1 === openUntil) {
        flushArray();
        operators.push("EMC");
      }
    });
    flushArray();
    return operators.join(" ");
  }

  /** Writes the Type0 font (CIDFont, descriptor, subset program, ToUnicode, CIDSet) into `update`. */
  embed(update: IncrementalUpdate): PdfRef {
    const { program, postScriptName, bbox, glyphCount, isCff } = this.subset;
    const baseFont = `${subsetTag(program)}+${postScriptName}`;
    const fontFile = update.add(
      new PdfStream(
        PdfDict.of({
          Filter: name("FlateDecode"),
          Length1: program.length,
          Subtype: isCff ? name("OpenType") : undefined,
        }),
        undefined,
        this.subset.compressedProgram,
      ),
    );
    const descriptor = update.add(
      PdfDict.of({
        Type: name("FontDescriptor"),
        FontName: name(baseFont),
        Flags: 4,
        FontBBox: bbox,
        ItalicAngle: 0,
        Ascent: this.ascent,
        Descent: this.descent,
        CapHeight: this.ascent,
        StemV: 80,
        [isCff ? "FontFile3" : "FontFile2"]: fontFile,
        // PDF/A-1 requires a CIDSet for subset CID fonts; later parts accept a correct one.
        CIDSet: update.add(flateStream(cidSet(glyphCount))),
      }),
    );
    const cidFont = update.add(
      PdfDict.of({
        Type: name("Font"),
        Subtype: name(isCff ? "CIDFontType0" : "CIDFontType2"),
        BaseFont: name(baseFont),
        CIDSystemInfo: PdfDict.of({
          Registry: new PdfString(Buffer.from("Adobe")),
          Ordering: new PdfString(Buffer.from("Identity")),
          Supplement: 0,
        }),
        FontDescriptor: descriptor,
        W: widthArray(this.widths),
        CIDToGIDMap: isCff ? undefined : name("Identity"),
      }),
    );
    return update.add(
      PdfDict.of({
        Type: name("Font"),
        Subtype: name("Type0"),
        BaseFont: name(baseFont),
        Encoding: name("Identity-H"),
        DescendantFonts: [cidFont],
        ToUnicode: update.add(flateStream(Buffer.from(toUnicodeCMap(this.unicode), "latin1"))),
      }),
    );
  }
}

function missingGlyph(text: string, cluster: number, fontName: string): EsignError {
  const char = String.fromCodePoint(text.codePointAt(cluster) ?? 0xfffd);
  const code = char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  return new EsignError(
    "E_APPEARANCE",
    `the font ${fontName} has no glyph for '${char}' (U+${code}); choose a font that covers it (--font)`,
  );
}

/** PostScript names are printable ASCII without delimiters or spaces. */
function sanitizeName(value: string): string {
  return value.replace(/[^!-~]|[()<>[\]{}/%#]/g, "").slice(0, 63) || "Font";
}

/** Six uppercase letters naming the subset, derived from its bytes so a rebuilt revision is identical. */
function subsetTag(program: Uint8Array): string {
  const digest = createHash("sha256").update(program).digest();
  return [...digest.subarray(0, 6)].map((byte) => String.fromCharCode(65 + (byte % 26))).join("");
}

function flateStream(data: Uint8Array): PdfStream {
  return new PdfStream(PdfDict.of({ Filter: name("FlateDecode") }), undefined, deflateSync(data));
}

/** One bit per CID, most significant bit first: every glyph of the subset is present. */
function cidSet(glyphCount: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(glyphCount / 8));
  for (let cid = 0; cid < glyphCount; cid++) bits[cid >> 3]! |= 0x80 >> (cid & 7);
  return bits;
}

/** /W as runs of consecutive CIDs: `[c [w1 w2 ...] c' [...]]`. */
function widthArray(widths: Map<number, number>): (number | number[])[] {
  const out: (number | number[])[] = [];
  let previous = -2;
  for (const cid of [...widths.keys()].sort((a, b) => a - b)) {
    if (cid === previous + 1) (out.at(-1) as number[]).push(widths.get(cid)!);
    else out.push(cid, [widths.get(cid)!]);
    previous = cid;
  }
  return out;
}

/** UTF-16BE, hex: how /ToUnicode and /ActualText strings spell text. */
function utf16Hex(text: string): string {
  return Buffer.from(text, "utf16le").swap16().toString("hex").toUpperCase();
}

/** A ToUnicode CMap mapping each CID to the text it was shaped from (UTF-16BE), 100 entries a block. */
function toUnicodeCMap(unicode: Map<number, string>): string {
  const entries = [...unicode.entries()].sort(([a], [b]) => a - b);
  let blocks = "";
  for (let i = 0; i < entries.length; i += 100) {
    const block = entries.slice(i, i + 100);
    blocks += `${block.length} beginbfchar\n`;
    for (const [cid, text] of block)
      blocks += `<${cid.toString(16).padStart(4, "0").toUpperCase()}> <${utf16Hex(text)}>\n`;
    blocks += "endbfchar\n";
  }
  return [
    "/CIDInit /ProcSet findresource begin",
    "12 dict begin",
    "begincmap",
    "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
    "/CMapName /Adobe-Identity-UCS def",
    "/CMapType 2 def",
    "1 begincodespacerange",
    "<0000> <FFFF>",
    "endcodespacerange",
    `${blocks}endcmap`,
    "CMapName currentdict /CMap defineresource pop",
    "end",
    "end",
    "",
  ].join("\n");
}
