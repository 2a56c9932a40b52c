import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BufferSource,
  ConcatSource,
  decodeTextString,
  encodeTextString,
  FileSource,
  hashByteRange,
  openPdf,
  PdfDict,
  PdfName,
  PdfRef,
  type PdfString,
  parsePdfDate,
  readChunks,
} from "../src";
import { NeedMoreData, Parser } from "../src/syntax/parser";
import { formatNumber, toSyntax } from "../src/syntax/serialize";
import { buildPdf, FIXTURES, SAMPLES } from "./helpers";

function parse(text: string) {
  return new Parser(Buffer.from(text, "latin1"), 64, true).parseObject();
}

describe("PDF syntax", () => {
  it("parses and re-serializes names with # escapes, strings, numbers and references", () => {
    const value = parse(
      "<< /A#20B (x\\(y\\)\\\\\\n\\101) /Hex <48 49 5> /N [1 -2.5 .5 3 0 R true null] /Ref 12 0 R >>",
    );
    expect(value).toBeInstanceOf(PdfDict);
    const dict = value as PdfDict;
    expect(Buffer.from((dict.get("A B") as PdfString).bytes).toString("latin1")).toBe("x(y)\\\nA");
    expect(Buffer.from((dict.get("Hex") as PdfString).bytes)).toEqual(Buffer.from([0x48, 0x49, 0x50]));
    expect(dict.get("N")).toEqual([1, -2.5, 0.5, new PdfRef(3, 0), true, null]);
    expect(dict.get("Ref")).toEqual(new PdfRef(12, 0));
    const written = toSyntax(dict);
    expect(written).toContain("/A#20B");
    expect(toSyntax(parse(written))).toBe(written);
  });

  it("decodes hex strings the same whether plain (native path) or with spaces, odd or cut", () => {
    const hexOf = (text: string) => Buffer.from((parse(text) as PdfString).bytes).toString("hex");
    expect(hexOf("<3082ABcd>")).toBe("3082abcd");
    expect(hexOf("<>")).toBe("");
    expect(hexOf("<30 82\nab>")).toBe("3082ab");
    expect(hexOf("<308>")).toBe("3080");
    expect(() => parse("<30zz>")).toThrow(/invalid character/);
    expect(() => parse("<3082")).toThrow(/unexpected end of data/);
    // A window that ends inside the string asks for more, whether it cut after an odd or even digit.
    for (const window of ["<3082", "<308", "<30 8"]) {
      const parser = new Parser(Buffer.from(window, "latin1"), 64, false);
      expect(() => parser.parseObject()).toThrow(NeedMoreData);
    }
    // A bad character before the window's end is corruption at once, not a reason to read more.
    expect(() => new Parser(Buffer.from("<30zz30", "latin1"), 64, false).parseObject()).toThrow(
      /invalid character/,
    );
  });

  it("writes numbers without exponents and names with delimiters escaped", () => {
    expect(formatNumber(1e-7)).toBe("0.0000001");
    expect(formatNumber(1e21)).toBe("1000000000000000000000");
    expect(formatNumber(-0.25)).toBe("-0.25");
    expect(toSyntax(PdfName.of("a/b#c(d)"))).toBe("/a#2Fb#23c#28d#29");
  });

  it("encodes text strings as PDFDocEncoding or UTF-16BE with BOM", () => {
    const latin = encodeTextString("Zürich €");
    expect(latin.bytes[0]).not.toBe(0xfe);
    expect(decodeTextString(latin)).toBe("Zürich €");
    const cjk = encodeTextString("署名 №1");
    expect([...cjk.bytes.subarray(0, 2)]).toEqual([0xfe, 0xff]);
    expect(decodeTextString(cjk)).toBe("署名 №1");
    expect(parsePdfDate("D:20260102030405+01'30'")?.toISOString()).toBe("2026-01-02T01:34:05.000Z");
  });
});

describe("reader", () => {
  it("reads the hybrid file's Info dictionary through /XRefStm", async () => {
    const doc = await openPdf(new BufferSource(readFileSync(join(SAMPLES, "hybrid-xref.pdf"))));
    expect(doc.trailer.get("XRefStm")).toBeTypeOf("number");
    const info = await doc.resolveDict(doc.trailer.get("Info"));
    expect(info?.entries.size).toBeGreaterThan(0);
  });

  it("prefers the /XRefStm definition over a free entry in a hybrid file's table", async () => {
    const original = readFileSync(join(SAMPLES, "hybrid-xref.pdf")).toString("latin1");
    const trailerAt = original.lastIndexOf("trailer");
    // A subsection listing the Info object (defined only in the stream) as free, as hybrid writers may.
    const damaged = `${original.slice(0, trailerAt)}280 1\n0000000000 00001 f \n${original.slice(trailerAt)}`;
    const doc = await openPdf(new BufferSource(Buffer.from(damaged, "latin1")));
    expect(doc.recovered).toBe(false);
    const info = await doc.resolveDict(doc.trailer.get("Info"));
    expect(info?.entries.size).toBeGreaterThan(0);
    // The table and its /XRefStm are one section: the object was never freed.
    expect(doc.freedObjectNumbers()).not.toContain(280);
  });

  it("lists an object a later xref section frees, and still reads its older definition", async () => {
    const original = readFileSync(join(SAMPLES, "hybrid-xref.pdf"));
    const doc = await openPdf(new BufferSource(original));
    const info = doc.trailer.get("Info") as PdfRef;
    const section =
      `xref\n${info.num} 1\n0000000000 00001 f \ntrailer\n<< /Size ${doc.nextObjectNumber}` +
      ` /Root ${doc.catalogRef.key} R /Prev ${doc.startxref} >>\nstartxref\n${original.length}\n%%EOF\n`;
    const freed = await openPdf(new BufferSource(Buffer.concat([original, Buffer.from(section, "latin1")])));
    expect(freed.freedObjectNumbers()).toEqual([info.num]);
    expect(await freed.resolveDict(info)).toBeInstanceOf(PdfDict);
  });

  it("reads the catalog and pages from an object stream", async () => {
    const doc = await openPdf(new BufferSource(readFileSync(join(FIXTURES, "pdftex-objstm.pdf"))));
    expect(doc.xrefKind).toBe("stream");
    expect(doc.trailer.get("Root")).toBeInstanceOf(PdfRef);
    const pages = await doc.pages();
    expect(pages).toHaveLength(2);
    expect(pages[0]?.mediaBox).toEqual([0, 0, 595.276, 841.89]);
  });

  it("reads a classic xref table that spans many read windows", async () => {
    const filler = Array.from({ length: 30_000 }, (_, i) => `<< /Index ${i} >>`);
    const pdf = buildPdf([
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
      ...filler,
    ]);
    const doc = await openPdf(new BufferSource(pdf));
    expect(doc.recovered).toBe(false);
    expect(doc.nextObjectNumber).toBe(30_004);
    for (const num of [4, 17_000, 30_003]) {
      expect((await doc.resolveDict(new PdfRef(num, 0)))?.get("Index")).toBe(num - 4);
    }
  });

  it("applies inherited page attributes from the page tree", async () => {
    const pdf = buildPdf([
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 612 792] /Rotate 90 /Resources << >> >>",
      "<< /Type /Page /Parent 2 0 R >>",
      "<< /Type /Pages /Parent 2 0 R /Kids [5 0 R] /Count 1 /MediaBox [0 0 100 200] >>",
      "<< /Type /Page /Parent 4 0 R /Rotate 0 >>",
    ]);
    const pages = await (await openPdf(new BufferSource(pdf))).pages();
    expect(pages.map((page) => [page.ref.num, page.mediaBox, page.rotate])).toEqual([
      [3, [0, 0, 612, 792], 90],
      [5, [0, 0, 100, 200], 0],
    ]);
    expect(pages[1]?.resources).toBeInstanceOf(PdfDict);
    const doc = await openPdf(new BufferSource(pdf));
    expect((await doc.page(2))?.ref.num).toBe(5);
    expect((await doc.page(2))?.mediaBox).toEqual([0, 0, 100, 200]);
    expect(await doc.page(3)).toBeUndefined();
    expect(await doc.pageCount()).toBe(2);
  });

  it("finds a page by /Count in a deep tree and falls back to a walk when counts lie", async () => {
    // Two-level tree of 3 x 3 pages: objects 3-5 are intermediate nodes, 6-14 pages.
    const objects = [
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 9 >>",
    ];
    for (let node = 0; node < 3; node++) {
      const kids = [0, 1, 2].map((i) => `${6 + node * 3 + i} 0 R`).join(" ");
      objects.push(`<< /Type /Pages /Parent 2 0 R /Kids [${kids}] /Count 3 >>`);
    }
    for (let page = 0; page < 9; page++) {
      objects.push(`<< /Type /Page /Parent ${3 + Math.floor(page / 3)} 0 R /MediaBox [0 0 ${page + 1} 1] >>`);
    }
    const doc = await openPdf(new BufferSource(buildPdf(objects)));
    for (const number of [1, 4, 9]) expect((await doc.page(number))?.mediaBox).toEqual([0, 0, number, 1]);
    const lying = buildPdf(objects.map((body) => body.replace("/Count 3 >>", "/Count 0 >>")));
    const fallback = await openPdf(new BufferSource(lying));
    expect((await fallback.page(5))?.mediaBox).toEqual([0, 0, 5, 1]);
  });

  it("reads the poppler signature's dictionary", async () => {
    const { signatureFields } = await import("../src");
    const doc = await openPdf(new BufferSource(readFileSync(join(SAMPLES, "already-signed-poppler.pdf"))));
    const [field] = await signatureFields(doc);
    expect(field?.signature?.subFilter).toBe("adbe.pkcs7.detached");
    expect(field?.signature?.contents.length).toBeGreaterThan(1000);
    expect(field?.signature?.byteRange[0]).toBe(0);
  });

  it("ConcatSource reads across the boundary and hashByteRange streams ranges", async () => {
    const source = new ConcatSource(new BufferSource(Buffer.from("hello ")), Buffer.from("world"));
    expect(Buffer.from(await source.read(3, 6)).toString()).toBe("lo wor");
    expect(Buffer.from(await source.read(8, 100)).toString()).toBe("rld");
    const target = new Uint8Array(4);
    expect(await source.readInto(target, 4)).toBe(4);
    expect(Buffer.from(target).toString()).toBe("o wo");
    const digest = await hashByteRange(source, [0, 5, 6, 5], "sha256");
    const { createHash } = await import("node:crypto");
    expect(digest).toEqual(createHash("sha256").update("helloworld").digest());
  });

  it("ConcatSource over a file reads into a target across the boundary, and views only memory", async () => {
    const directory = mkdtempSync(join(tmpdir(), "concat-source-"));
    const path = join(directory, "base");
    writeFileSync(path, "hello ");
    const file = await FileSource.open(path);
    try {
      const source = new ConcatSource(file, Buffer.from("world"));
      for (const [offset, length, expected] of [
        [0, 11, "hello world"],
        [4, 4, "o wo"],
        [6, 3, "wor"],
        [2, 2, "ll"],
        [9, 10, "ld"],
      ] as const) {
        const target = Buffer.alloc(length);
        const filled = await source.readInto(target, offset);
        expect(target.subarray(0, filled).toString()).toBe(expected);
      }
      expect(source.viewAt(2, 3)).toBeUndefined();
      expect(Buffer.from(source.viewAt(7, 100)!).toString()).toBe("orld");
      const chunks: string[] = [];
      for await (const chunk of readChunks(source, 1, 10, { chunkSize: 4, reuseBuffer: true }))
        chunks.push(Buffer.from(chunk).toString());
      expect(chunks.join("")).toBe("ello worl");
    } finally {
      await file.close();
      rmSync(directory, { recursive: true, force: true });
    }
    // In memory, chunks are views split where the memory is: no joined copy.
    const inMemory = new ConcatSource(new BufferSource(Buffer.from("hello ")), Buffer.from("world"));
    const views: string[] = [];
    for await (const chunk of readChunks(inMemory, 0, 11, { reuseBuffer: true }))
      views.push(Buffer.from(chunk).toString());
    expect(views).toEqual(["hello ", "world"]);
  });
});
