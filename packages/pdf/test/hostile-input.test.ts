import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { BufferSource, openPdf, type PdfLimits, prepareSignature } from "../src";
import {
  buildPdf,
  FIXTURES,
  failuresUnderRoots,
  makePki,
  run,
  SAMPLES,
  scratchDir,
  signBytes,
  type TestPki,
} from "./helpers";

let pki: TestPki;
const out = scratchDir("esign-pdf-hostile-");
beforeAll(async () => {
  pki = await makePki();
});

const PAGE_OBJECTS = [
  "<< /Type /Catalog /Pages 2 0 R >>",
  "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
];

async function outcome(input: Uint8Array, limits?: Partial<PdfLimits>): Promise<string> {
  try {
    const doc = await openPdf(new BufferSource(input), { limits });
    await doc.pageCount();
    await prepareSignature(doc, { contentsSize: 4096 });
    return "prepared";
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!code) throw error; // anything but an EsignError is a bug
    return code;
  }
}

/** Damage that signing can work around is fine only if the result really validates. */
async function expectCodeOrValidSignature(input: Buffer, codes: string[], label: string): Promise<void> {
  const result = await outcome(input);
  if (result !== "prepared") {
    expect(codes).toContain(result);
    return;
  }
  const { signed } = await signBytes(input, pki);
  const file = join(out, `${label}.pdf`);
  writeFileSync(file, signed);
  const validation = await failuresUnderRoots(file, [pki.rootCert]);
  expect(validation.failures, validation.output).toEqual([]);
}

describe("hostile and broken input", () => {
  it("rejects zero bytes and a PNG named .pdf with E_NOT_PDF", async () => {
    expect(await outcome(new Uint8Array(0))).toBe("E_NOT_PDF");
    const png = join(out, "image.pdf");
    await run("gs", [
      "-q",
      "-dNOPAUSE",
      "-dBATCH",
      "-sDEVICE=png16m",
      "-r10",
      `-sOutputFile=${png}`,
      join(FIXTURES, "gs-ps2pdf.pdf"),
    ]);
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe("PNG");
    expect(await outcome(bytes)).toBe("E_NOT_PDF");
  });

  it("refuses a file encrypted with a user password it was not given with E_PASSWORD", async () => {
    const encrypted = join(out, "encrypted.pdf");
    await run("qpdf", [
      "--encrypt",
      "user",
      "owner",
      "256",
      "--",
      join(FIXTURES, "gs-ps2pdf.pdf"),
      encrypted,
    ]);
    expect(await outcome(readFileSync(encrypted))).toBe("E_PASSWORD");
  });

  it("recovers a file whose xref offsets are all wrong and signs it validly", async () => {
    const original = readFileSync(join(FIXTURES, "gs-ps2pdf.pdf"));
    const headerEnd = original.indexOf("\n") + 1;
    // A comment inserted after the header shifts every object: the xref now points nowhere.
    const shifted = Buffer.concat([
      original.subarray(0, headerEnd),
      Buffer.from("%shifted by 25 bytes....\n"),
      original.subarray(headerEnd),
    ]);
    const doc = await openPdf(new BufferSource(shifted));
    expect(await doc.pageCount()).toBe(2);
    expect(doc.recovered).toBe(true);
    await expectCodeOrValidSignature(shifted, [], "shifted-offsets");
  });

  it("recovers a hybrid file with shifted offsets and lists its compressed objects in an xref stream", async () => {
    const original = readFileSync(join(SAMPLES, "hybrid-xref.pdf"));
    const headerEnd = original.indexOf("\n") + 1;
    const shifted = Buffer.concat([
      original.subarray(0, headerEnd),
      Buffer.from("%shifted\n"),
      original.subarray(headerEnd),
    ]);
    const doc = await openPdf(new BufferSource(shifted));
    expect(doc.recovered).toBe(true);
    expect(doc.xrefKind).toBe("stream");
    expect((await doc.resolveDict(doc.trailer.get("Info")))?.entries.size).toBeGreaterThan(0);
    await expectCodeOrValidSignature(shifted, [], "shifted-hybrid");
  });

  it("recovers lazily when one object's offset is wrong, switching the new section to a stream", async () => {
    const original = readFileSync(join(SAMPLES, "hybrid-xref.pdf")).toString("latin1");
    // The page (object 4, at 543) now points at object 5: found only when the page is read.
    const damaged = Buffer.from(original.replace("0000000543 00000 n", "0000000728 00000 n"), "latin1");
    const doc = await openPdf(new BufferSource(damaged));
    expect(doc.recovered).toBe(false);
    expect(doc.xrefKind).toBe("table");
    expect(await doc.pageCount()).toBe(1);
    expect(doc.recovered).toBe(true);
    expect(doc.xrefKind).toBe("stream"); // the hybrid file's compressed objects need type-2 entries
    await expectCodeOrValidSignature(damaged, [], "lazy-recovery");
  });

  it("recovers a file without startxref (xref stream and object streams)", async () => {
    const original = readFileSync(join(FIXTURES, "pdftex-objstm.pdf"));
    const damaged = Buffer.from(
      original
        .toString("latin1")
        .replace(/startxref\s+\d+/, "")
        .replace(/%%EOF\s*$/, ""),
      "latin1",
    );
    const doc = await openPdf(new BufferSource(damaged));
    expect(doc.recovered).toBe(true);
    expect(await doc.pageCount()).toBe(2);
    await expectCodeOrValidSignature(damaged, [], "no-startxref");
  });

  it("recovers when the trailer's /Root points at the wrong object", async () => {
    const pdf = buildPdf(PAGE_OBJECTS).toString("latin1").replace("/Root 1 0 R", "/Root 3 0 R");
    const doc = await openPdf(new BufferSource(Buffer.from(pdf, "latin1")));
    expect(doc.recovered).toBe(true);
    expect(doc.catalogRef.num).toBe(1);
    await expectCodeOrValidSignature(Buffer.from(pdf, "latin1"), [], "wrong-root");
  });

  it("handles a file cut in half", async () => {
    for (const file of ["pdftex-classic.pdf", "pdflib-objstm.pdf", "gs-ps2pdf.pdf"]) {
      const original = readFileSync(join(FIXTURES, file));
      const half = original.subarray(0, Math.floor(original.length / 2));
      await expectCodeOrValidSignature(half, ["E_PDF_CORRUPT"], `half-${file}`);
    }
  });

  it("handles a declared stream /Length far beyond the file", async () => {
    const content = "BT /F1 12 Tf 72 720 Td (hello) Tj ET";
    const pdf = buildPdf([
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
      `<< /Length 99999999999 >>\nstream\n${content}\nendstream`,
    ]);
    await expectCodeOrValidSignature(pdf, ["E_PDF_CORRUPT"], "huge-length");
    // The same lie on the xref stream itself, which the reader must decode.
    const original = readFileSync(join(FIXTURES, "pdftex-objstm.pdf")).toString("latin1");
    const xrefAt = original.lastIndexOf("/Type /XRef");
    const objectStart = original.lastIndexOf(" obj", xrefAt);
    const dictEnd = original.indexOf("stream", xrefAt);
    const dict = original.slice(objectStart, dictEnd).replace(/\/Length \d+/, "/Length 99999999");
    expect(dict).toContain("/Length 99999999");
    const damaged = Buffer.from(original.slice(0, objectStart) + dict + original.slice(dictEnd), "latin1");
    await expectCodeOrValidSignature(damaged, ["E_PDF_CORRUPT"], "huge-xref-length");
  });

  it("fails fast with E_PDF_LIMIT on 100k nested arrays", async () => {
    const nested = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const pdf = buildPdf([`<< /Type /Catalog /Pages 2 0 R /Deep ${nested} >>`, ...PAGE_OBJECTS.slice(1)]);
    expect(await outcome(pdf)).toBe("E_PDF_LIMIT");
  });

  it("stops a /Prev loop", async () => {
    const valid = buildPdf(PAGE_OBJECTS);
    const startxref = Number(/startxref\s+(\d+)/.exec(valid.toString("latin1"))![1]);
    const looped = buildPdf(PAGE_OBJECTS, `/Prev ${startxref} `);
    // The section points back at itself: the reader must not spin; recovery may rescue the file.
    await expectCodeOrValidSignature(looped, ["E_PDF_CORRUPT"], "prev-loop");
  });

  it("rejects reference cycles in the page tree", async () => {
    const pdf = buildPdf([
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
    ]);
    expect(await outcome(pdf)).toBe("E_PDF_CORRUPT");
  });

  it("rejects a stream /Length that refers to its own object", async () => {
    const pdf = buildPdf([
      "<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>",
      ...PAGE_OBJECTS.slice(1),
      "<< /Length 4 0 R >>\nstream\nabc\nendstream",
    ]);
    const doc = await openPdf(new BufferSource(pdf));
    const code = await doc.resolve((await doc.catalog()).get("Metadata")).then(
      () => "resolved",
      (error) => error.code,
    );
    expect(code).toBe("E_PDF_CORRUPT");
  });

  it("reads objects concurrently, and a /Length cycle between two streams fails instead of hanging", async () => {
    const pdf = buildPdf([
      "<< /Type /Catalog /Pages 2 0 R /A 4 0 R /B 5 0 R >>",
      ...PAGE_OBJECTS.slice(1),
      "<< /Length 5 0 R >>\nstream\nabc\nendstream",
      "<< /Length 4 0 R >>\nstream\nabc\nendstream",
    ]);
    const doc = await openPdf(new BufferSource(pdf));
    const [first, second] = await Promise.all([doc.getObject(3), doc.getObject(3)]);
    expect(first).toBe(second);
    const outcomes = await Promise.allSettled([doc.getObject(4), doc.getObject(5), doc.getObject(4)]);
    expect(outcomes.map((outcome) => outcome.status === "rejected" && outcome.reason.code)).toEqual([
      "E_PDF_CORRUPT",
      "E_PDF_CORRUPT",
      "E_PDF_CORRUPT",
    ]);
  });

  it("caps decompression of xref streams (zip bomb) with E_PDF_LIMIT", async () => {
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024));
    const header = "%PDF-1.7\n";
    const xrefObject = Buffer.concat([
      Buffer.from(
        `1 0 obj\n<< /Type /XRef /Size 5 /W [1 4 2] /Root 2 0 R /Filter /FlateDecode /Length ${bomb.length} >>\nstream\n`,
      ),
      bomb,
      Buffer.from("\nendstream\nendobj\n"),
    ]);
    const pdf = Buffer.concat([
      Buffer.from(header),
      xrefObject,
      Buffer.from(`startxref\n${header.length}\n%%EOF\n`),
    ]);
    expect(await outcome(pdf, { maxDecodedStreamBytes: 4 * 1024 * 1024 })).toBe("E_PDF_LIMIT");
  });

  it("rejects absurd object counts with E_PDF_LIMIT", async () => {
    const valid = buildPdf(PAGE_OBJECTS).toString("latin1");
    const huge = Buffer.from(valid.replace("xref\n0 4\n", "xref\n0 999999999\n"), "latin1");
    expect(await outcome(huge)).toBe("E_PDF_LIMIT");
    const hugeSize = Buffer.from(valid.replace("/Size 4 ", "/Size 999999999999 "), "latin1");
    expect(await outcome(hugeSize)).toBe("E_PDF_LIMIT");
  });
});
