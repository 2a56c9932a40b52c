import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BufferSource,
  type ByteSource,
  ConcatSource,
  IncrementalUpdate,
  type OpenOptions,
  openPdf,
  PdfDict,
  type PdfDocument,
  PdfString,
  prepareSignature,
  signatureFields,
} from "../src";
import { toSyntax } from "../src/syntax/serialize";
import { FIXTURES, run, SAMPLES, scratchDir } from "./helpers";

/** Counts the bytes read below `watchedEnd`: what a reader parsed of the original. */
class CountingSource implements ByteSource {
  readonly size: number;
  bytesRead = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const view = this.bytes.subarray(offset, Math.min(offset + length, this.size));
    this.bytesRead += view.length;
    return view;
  }
}

/** Everything a reader's xref decides, in a comparable form. */
async function xrefView(doc: PdfDocument) {
  return {
    trailer: toSyntax(doc.trailer),
    startxref: doc.startxref,
    xrefKind: doc.xrefKind,
    recovered: doc.recovered,
    nextObjectNumber: doc.nextObjectNumber,
    live: doc.liveObjectEntries(),
    freed: doc.freedObjectNumbers(),
    catalog: toSyntax(await doc.catalog()),
    fields: (await signatureFields(doc)).map((field) => ({
      name: field.name,
      byteRange: field.signature?.byteRange,
      contents: Buffer.from(field.signature?.contents ?? []).toString("hex"),
    })),
  };
}

/** A signed revision over `doc` (a stand-in CMS): the output a signer's answer would make. */
async function signedOver(doc: PdfDocument): Promise<ConcatSource> {
  const prepared = await prepareSignature(doc, { contentsSize: 64 });
  return new ConcatSource(doc.source, prepared.embed(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x07])));
}

function inputs(): Array<{ name: string; bytes: Uint8Array }> {
  const pdfs = (dir: string) =>
    readdirSync(dir)
      .filter((file) => file.endsWith(".pdf"))
      .map((file) => ({ name: file, bytes: new Uint8Array(readFileSync(join(dir, file))) }));
  return [...pdfs(FIXTURES), ...pdfs(SAMPLES)];
}

describe("opening an output that extends an opened document", () => {
  it("finds exactly what a fresh reader finds, for every fixture and sample, two revisions deep", async () => {
    const compared: string[] = [];
    for (const { name, bytes } of inputs()) {
      const input = await openPdf(new BufferSource(bytes));
      const once = await signedOver(input);
      const onceExtended = await openPdf(once, { extends: input });
      expect(await xrefView(onceExtended), name).toEqual(await xrefView(await openPdf(once)));
      // The next signature's output extends the first output, itself opened by extension.
      const twice = await signedOver(onceExtended);
      const fresh = await xrefView(await openPdf(twice));
      expect(await xrefView(await openPdf(twice, { extends: onceExtended })), name).toEqual(fresh);
      expect(await xrefView(await openPdf(twice, { extends: input })), name).toEqual(fresh);
      compared.push(name);
    }
    expect(compared.length).toBeGreaterThan(20);
  });

  it("reads none of the original's xref again, and only the source it extends", async () => {
    const bytes = new Uint8Array(readFileSync(join(SAMPLES, "libreoffice-acroform-fields.pdf")));
    const counting = new CountingSource(bytes);
    const input = await openPdf(counting);
    const output = await signedOver(input);
    counting.bytesRead = 0;
    await openPdf(output);
    const freshReread = counting.bytesRead;
    counting.bytesRead = 0;
    await openPdf(output, { extends: input });
    // The %PDF- header check alone (1 KiB): xref, trailer and catalog (rewritten) are not read again.
    expect(freshReread).toBeGreaterThan(2 * 1024);
    expect(counting.bytesRead).toBe(1024);

    // Not over the same source object (same bytes or not), or with other limits: a full read.
    const copy = new CountingSource(bytes);
    const elsewhere = new ConcatSource(copy, new Uint8Array(await output.read(bytes.length, output.size)));
    await openPdf(elsewhere, { extends: input });
    expect(copy.bytesRead).toBe(freshReread);
    counting.bytesRead = 0;
    await openPdf(output, { extends: input, limits: { maxObjectBytes: 1024 * 1024 } });
    expect(counting.bytesRead).toBe(freshReread);
  });

  it("merges free entries as a fresh reader does: a newer free entry yields to an older definition", async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, "pdflib-classic.pdf")));
    const input = await openPdf(new BufferSource(bytes));
    const live = input.liveObjectEntries().map(({ num }) => num);
    const freedNum = live.at(-1)!;
    // A hand-written revision: frees one of the original's objects, defines a new one.
    const base = bytes.length;
    const prefix = input.endsWithNewline ? "" : "\n";
    const newNum = input.nextObjectNumber;
    const object = `${newNum} 0 obj\n(new)\nendobj\n`;
    const objectAt = base + prefix.length;
    const xrefAt = objectAt + object.length;
    const revision = Buffer.from(
      `${prefix}${object}xref\n0 1\n0000000000 65535 f\r\n${freedNum} 1\n0000000000 00001 f\r\n` +
        `${newNum} 1\n${String(objectAt).padStart(10, "0")} 00000 n\r\n` +
        `trailer\n<< /Size ${newNum + 1} /Root ${toSyntax(input.trailer.get("Root")!)} /Prev ${input.startxref} >>\n` +
        `startxref\n${xrefAt}\n%%EOF\n`,
      "latin1",
    );
    const output = new ConcatSource(input.source, revision);
    const extended = await openPdf(output, { extends: input });
    const view = await xrefView(extended);
    expect(view).toEqual(await xrefView(await openPdf(output)));
    expect(view.freed).toContain(freedNum);
    expect(view.live.map(({ num }) => num)).toContain(freedNum);
    expect(await extended.getObject(newNum)).toEqual(new PdfString(new Uint8Array(Buffer.from("new"))));
  });

  it("decrypts an encrypted output opened by extension as a fresh reader does", async () => {
    const out = scratchDir("esign-pdf-extends-");
    const encrypted = join(out, "encrypted.pdf");
    await run("qpdf", [
      "--encrypt",
      "",
      "owner-pw",
      "256",
      "--",
      "--object-streams=generate",
      join(FIXTURES, "pdflib-form.pdf"),
      encrypted,
    ]);
    const options: OpenOptions = { password: "owner-pw" };
    const input = await openPdf(new BufferSource(readFileSync(encrypted)), options);
    expect(input.encryption).toBeDefined();
    const output = await signedOver(input);
    const extended = await openPdf(output, { ...options, extends: input });
    expect(await xrefView(extended)).toEqual(await xrefView(await openPdf(output, options)));
    const info = await extended.resolveDict(extended.trailer.get("Info"));
    expect(info === undefined || info instanceof PdfDict).toBe(true);
    // A later revision over the extended output still encrypts and reads back the same way.
    const update = new IncrementalUpdate(extended);
    const ref = update.add(new PdfString(Buffer.from("secret")));
    const again = new ConcatSource(output, update.build().bytes);
    const reread = await openPdf(again, { ...options, extends: extended });
    expect(await reread.getObject(ref.num)).toEqual(await (await openPdf(again, options)).getObject(ref.num));
  });
});
