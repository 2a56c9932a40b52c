import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TAMPER } from "@esign/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BufferSource,
  ConcatSource,
  certificationPermission,
  FileSource,
  formFields,
  openPdf,
  PdfRef,
  prepareSignature,
  signatureFields,
} from "../src";
import {
  errorCode,
  FIXTURES,
  failuresUnderRoots,
  makePki,
  run,
  SAMPLES,
  scratchDir,
  signBytes,
  type TestPki,
  validate,
} from "./helpers";

let pki: TestPki;
const out = scratchDir("esign-pdf-workflows-");
beforeAll(async () => {
  pki = await makePki();
});

const fixture = (file: string) => readFileSync(join(FIXTURES, file));

async function expectValid(signed: Uint8Array, label: string, roots?: string[]): Promise<string> {
  const file = join(out, `${label}.pdf`);
  writeFileSync(file, signed);
  const result = await failuresUnderRoots(file, roots ?? [pki.rootCert]);
  expect(result.failures, result.output).toEqual([]);
  return result.output;
}

describe("incremental signing workflows", () => {
  it("signs the same file three times and all three signatures stay valid", async () => {
    let bytes: Uint8Array = fixture("pdftex-objstm.pdf");
    for (let i = 0; i < 3; i++) bytes = (await signBytes(bytes, pki)).signed;
    const output = await expectValid(bytes, "three-signatures");
    expect(output).toContain("3 signature(s)");
    const fields = await signatureFields(await openPdf(new BufferSource(bytes)));
    expect(fields.map((field) => field.name)).toEqual(["Signature1", "Signature2", "Signature3"]);
    expect(
      fields.every((field) => field.signed && field.signature?.subFilter === "ETSI.CAdES.detached"),
    ).toBe(true);
  });

  it("produces output whose validation fails once a signed byte is flipped", async () => {
    const { signed } = await signBytes(fixture("gs-pdfwrite.pdf"), pki);
    await expectValid(signed, "before-tamper");
    const tampered = join(out, "tampered.pdf");
    await run(TAMPER, [join(out, "before-tamper.pdf"), tampered]);
    const result = await validate(tampered, pki.rootCert);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/sig#1\s+openssl-cms\s+FAIL/);
  });

  it("re-opens a signed output through ConcatSource without copying the original", async () => {
    const input = fixture("gs-ps2pdf.pdf");
    const file = join(out, "concat-base.pdf");
    writeFileSync(file, input);
    const source = await FileSource.open(file);
    try {
      const doc = await openPdf(source);
      const prepared = await prepareSignature(doc, { contentsSize: 8192 });
      const { signed } = await signBytes(input, pki); // a real signed revision to append
      const revision = signed.subarray(input.length);
      const reopened = await openPdf(new ConcatSource(source, revision));
      expect(reopened.source.size).toBe(signed.length);
      expect((await signatureFields(reopened)).filter((field) => field.signed)).toHaveLength(1);
      const written = join(out, "concat-written.pdf");
      await prepared.writeTo(prepared.embed(new Uint8Array([0x30, 0x00])), written);
      expect(readFileSync(written).subarray(0, input.length).equals(input)).toBe(true);
      expect(readFileSync(written).length).toBe(prepared.signedLength);
    } finally {
      await source.close();
    }
  });

  it("keeps the earlier poppler signature valid when adding one", async () => {
    const input = readFileSync(join(SAMPLES, "already-signed-poppler.pdf"));
    const { signed } = await signBytes(input, pki, { fieldName: "Approval" });
    await expectValid(signed, "already-signed", [
      pki.rootCert,
      join(SAMPLES, "already-signed-poppler.root.pem"),
    ]);
    // Each signature checked against only its own root: poppler's root validates signature 1 fully.
    const popplerOnly = await validate(
      join(out, "already-signed.pdf"),
      join(SAMPLES, "already-signed-poppler.root.pem"),
    );
    expect(popplerOnly.output).toMatch(/sig#1\s+openssl-cms\s+PASS/);
    expect(popplerOnly.output).toMatch(/sig#1\s+pdfsig\s+PASS/);
  });

  it("fills an existing empty signature field instead of adding one", async () => {
    const input = fixture("pdflib-empty-sig-field.pdf");
    const { signed, prepared } = await signBytes(input, pki, { fieldName: "ClientSignature" });
    expect(prepared.fieldName).toBe("ClientSignature");
    await expectValid(signed, "filled-field");
    const doc = await openPdf(new BufferSource(signed));
    const fields = await signatureFields(doc);
    expect(fields).toHaveLength(1);
    expect(fields[0]?.signed).toBe(true);
    const secondPageAnnots = await doc.resolveArray((await doc.pages())[1]?.dict.get("Annots"));
    expect(secondPageAnnots).toHaveLength(1);
  });

  it("appends a new widget to an indirect /Annots array without rewriting the page", async () => {
    const input = fixture("pdflib-empty-sig-field.pdf");
    const before = await openPdf(new BufferSource(input));
    const page = (await before.page(2))!;
    const annotsRef = page.dict.get("Annots");
    expect(annotsRef).toBeInstanceOf(PdfRef);
    const { signed, prepared } = await signBytes(input, pki, { fieldName: "Witness", page: 2 });
    const revisionText = Buffer.from(prepared.revision).toString("latin1");
    expect(revisionText).toContain(`\n${(annotsRef as PdfRef).num} 0 obj\n[`);
    expect(revisionText).not.toContain(`\n${page.ref.num} 0 obj`);
    const after = await openPdf(new BufferSource(signed));
    expect(await after.resolveArray((await after.page(2))?.dict.get("Annots"))).toHaveLength(2);
    expect((await signatureFields(after)).map((field) => [field.name, field.signed])).toEqual([
      ["ClientSignature", false],
      ["Witness", true],
    ]);
    await expectValid(signed, "indirect-annots");
  });

  it("merges into an existing AcroForm (direct or indirect) and keeps its fields", async () => {
    for (const file of ["pdflib-form.pdf", "pdflib-direct-acroform.pdf"]) {
      const input = fixture(file);
      const beforeNames = (await formFields(await openPdf(new BufferSource(input)))).map(
        (field) => field.name,
      );
      const { signed } = await signBytes(input, pki);
      const doc = await openPdf(new BufferSource(signed));
      const names = (await formFields(doc)).map((field) => field.name);
      expect(names).toEqual([...beforeNames, "Signature1"]);
      expect((await doc.acroForm())?.dict.get("SigFlags")).toBe(3);
      await expectValid(signed, `merged-${file}`);
    }
  });

  it("clears /NeedAppearances so viewers do not regenerate appearances of a signed form", async () => {
    const input = readFileSync(join(SAMPLES, "libreoffice-acroform-fields.pdf"));
    expect((await (await openPdf(new BufferSource(input))).acroForm())?.dict.get("NeedAppearances")).toBe(
      true,
    );
    const { signed } = await signBytes(input, pki);
    const form = await (await openPdf(new BufferSource(signed))).acroForm();
    expect(form?.dict.get("NeedAppearances")).toBe(false);
    expect(form?.dict.get("SigFlags")).toBe(3);
  });

  it("certifies with P=2, then accepts an approval signature", async () => {
    const certified = (await signBytes(fixture("pdflib-objstm.pdf"), pki, { certify: 2 })).signed;
    expect(await certificationPermission(await openPdf(new BufferSource(certified)))).toBe(2);
    const approved = (await signBytes(certified, pki)).signed;
    await expectValid(approved, "certified-then-approved");
    const fields = await signatureFields(await openPdf(new BufferSource(approved)));
    expect(fields.map((field) => field.signature?.docMdpPermission)).toEqual([2, undefined]);
  });

  it("refuses to sign a document certified with P=1", async () => {
    const locked = (await signBytes(fixture("gs-ps2pdf.pdf"), pki, { certify: 1 })).signed;
    await expectValid(locked, "certified-p1");
    const doc = await openPdf(new BufferSource(locked));
    expect(await errorCode(prepareSignature(doc, { contentsSize: 8192 }))).toBe("E_DOCMDP_LOCKED");
  });

  it("allows certification only as the first signature", async () => {
    const doc = await openPdf(new BufferSource(readFileSync(join(SAMPLES, "already-signed-poppler.pdf"))));
    expect(await errorCode(prepareSignature(doc, { contentsSize: 8192, certify: 2 }))).toBe("E_FIELD");
  });

  it("refuses signed fields and non-signature fields as targets", async () => {
    const signedDoc = await openPdf(
      new BufferSource(readFileSync(join(SAMPLES, "already-signed-poppler.pdf"))),
    );
    expect(
      await errorCode(prepareSignature(signedDoc, { contentsSize: 8192, fieldName: "FirstSignature" })),
    ).toBe("E_FIELD");
    const formDoc = await openPdf(new BufferSource(fixture("pdflib-form.pdf")));
    expect(
      await errorCode(prepareSignature(formDoc, { contentsSize: 8192, fieldName: "customer.name" })),
    ).toBe("E_FIELD");
    expect(await errorCode(prepareSignature(formDoc, { contentsSize: 8192, page: 9 }))).toBe("E_FIELD");
    expect(await errorCode(prepareSignature(formDoc, { contentsSize: 8192, fieldName: "new.child" }))).toBe(
      "E_FIELD",
    );
    expect(await errorCode(prepareSignature(formDoc, { contentsSize: 0 }))).toBe("E_CONFIG");
  });

  it("throws E_CONTENTS_TOO_SMALL when the CMS does not fit", async () => {
    const doc = await openPdf(new BufferSource(fixture("gs-ps2pdf.pdf")));
    const prepared = await prepareSignature(doc, { contentsSize: 16 });
    expect(prepared.contentsCapacity).toBe(16);
    expect(() => prepared.embed(new Uint8Array(17))).toThrowError(
      expect.objectContaining({ code: "E_CONTENTS_TOO_SMALL" }),
    );
    expect(prepared.embed(new Uint8Array(16).fill(0xab)).length).toBe(prepared.revision.length);
  });

  it("writes text strings, /M and the widget on the requested page", async () => {
    const input = fixture("pdflib-objstm.pdf");
    const signingTime = new Date("2026-03-04T05:06:07Z");
    const { signed } = await signBytes(input, pki, {
      page: 3,
      signingTime,
      reason: "Freigabe – Vertrag №7",
      location: "Zürich",
      name: "José (signer)",
      contactInfo: "legal@example.com",
    });
    const doc = await openPdf(new BufferSource(signed));
    const [field] = await signatureFields(doc);
    expect(field?.signature).toMatchObject({
      type: "Sig",
      filter: "Adobe.PPKLite",
      reason: "Freigabe – Vertrag №7",
      location: "Zürich",
      name: "José (signer)",
      contactInfo: "legal@example.com",
      signingTimeText: "D:20260304050607Z",
    });
    expect(field?.signature?.signingTime?.toISOString()).toBe(signingTime.toISOString());
    expect(field?.dict.get("P")).toEqual((await doc.pages())[2]?.ref);
    await expectValid(signed, "text-strings");
  });

  it("prepares a document time-stamp dictionary without signer attributes", async () => {
    const doc = await openPdf(new BufferSource(fixture("gs-ps2pdf.pdf")));
    const prepared = await prepareSignature(doc, {
      contentsSize: 4096,
      kind: "timestamp",
      reason: "ignored",
    });
    const text = Buffer.from(prepared.revision).toString("latin1");
    expect(text).toContain("/Type /DocTimeStamp");
    expect(text).toContain("/SubFilter /ETSI.RFC3161");
    expect(text).not.toMatch(/\/M \(|\/Reason|\/Reference/);
  });

  it("appends a new xref section of the same kind as the previous one", async () => {
    const cases: Array<[string, "table" | "stream"]> = [
      ["gs-ps2pdf.pdf", "table"],
      ["pdftex-objstm.pdf", "stream"],
      ["qpdf-linearized-gs.pdf", "table"],
      ["pdflib-objstm.pdf", "stream"],
    ];
    for (const [file, kind] of cases) {
      const input = fixture(file);
      const doc = await openPdf(new BufferSource(input));
      expect(doc.xrefKind).toBe(kind);
      const { signed, prepared } = await signBytes(input, pki);
      const revisionText = Buffer.from(prepared.revision).toString("latin1");
      expect(revisionText.includes("/Type /XRef")).toBe(kind === "stream");
      expect(/\nxref\n/.test(revisionText)).toBe(kind === "table");
      const reopened = await openPdf(new BufferSource(signed));
      expect(reopened.xrefKind).toBe(kind);
      expect(reopened.startxref).toBeGreaterThan(input.length);
      expect(reopened.trailer.get("Prev")).toBe(doc.startxref);
      // No gaps: numbering continues at the previous /Size.
      expect(reopened.nextObjectNumber).toBeGreaterThan(doc.nextObjectNumber);
      expect(Buffer.from(prepared.revision).toString("latin1")).toContain(`\n${doc.nextObjectNumber} 0 obj`);
    }
  });

  it("starts the revision with an end-of-line when the file does not end with one", async () => {
    const input = fixture("qpdf-no-trailing-eol.pdf");
    expect(input.at(-1)).not.toBe(0x0a);
    const { signed, prepared } = await signBytes(input, pki);
    expect(prepared.revision[0]).toBe(0x0a);
    await expectValid(signed, "no-trailing-eol");
  });
});
