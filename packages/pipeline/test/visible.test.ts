import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isEsignError } from "@esign/errors";
import { createTestPki, toPem } from "@esign/pades/testing";
import {
  asDict,
  BufferSource,
  type ByteSource,
  isName,
  openPdf,
  type PdfDict,
  type PdfDocument,
  PdfStream,
  readChunks,
  signatureFields,
  widgetOf,
} from "@esign/pdf";
import { CmsBuildingSigner, LocalKeyProvider } from "@esign/signers";
import { REPO_ROOT, validate } from "@esign/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { type PrepareOptions, signPdf } from "../src";

const FIXTURES = join(REPO_ROOT, "packages/appearance/test/fixtures");

let dir: string;
let rootPem: string;
let signer: CmsBuildingSigner;
let stampPng: Uint8Array;
let stampJpg: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "esign-pipeline-visible-"));
  const pki = await createTestPki();
  rootPem = join(dir, "root.pem");
  await writeFile(rootPem, toPem(pki.root.certificate));
  signer = new CmsBuildingSigner({
    provider: new LocalKeyProvider({
      privateKey: pki.signer.privateKey,
      certificate: pki.signer.certificate,
      chain: pki.signer.chain,
      signatureAlgorithm: pki.signer.signatureAlgorithm,
    }),
  });
  stampPng = await readFile(join(FIXTURES, "stamp.png"));
  stampJpg = await readFile(join(FIXTURES, "stamp.jpg"));
});

async function bytesOf(output: ByteSource): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of readChunks(output)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Signs `fixture` with a visible PNG seal; returns the input, the output and the output's path. */
async function signVisibly(fixture: string, appearance: Partial<NonNullable<PrepareOptions["appearance"]>>) {
  const input = await readFile(join(FIXTURES, fixture));
  const signed = await signPdf(new BufferSource(input), signer, {
    level: "B-B",
    appearance: {
      placement: { kind: "rect", page: 1, rect: [72, 72, 300, 150] },
      image: stampPng,
      ...appearance,
    },
  });
  const output = await bytesOf(signed.output);
  const path = join(dir, `visible-${fixture}`);
  await writeFile(path, output);
  return { input, output, path };
}

/** The form XObject of the newest signature's widget and the resources it draws with. */
async function sealOf(
  doc: PdfDocument,
): Promise<{ form: PdfStream; image: PdfDict; cidFont: PdfDict; descriptor: PdfDict }> {
  const field = (await signatureFields(doc)).at(-1)!;
  const widget = await widgetOf(doc, field.dict, field.ref);
  const form = await doc.resolve((await doc.resolveDict(widget.dict.get("AP")))!.get("N"));
  if (!(form instanceof PdfStream)) throw new Error("no /AP /N form");
  const resources = (await doc.resolveDict(form.dict.get("Resources")))!;
  const image = asDict(await doc.resolve((await doc.resolveDict(resources.get("XObject")))!.get("Im0")))!;
  const font = (await doc.resolveDict((await doc.resolveDict(resources.get("Font")))!.get("F0")))!;
  const cidFont = (await doc.resolveDict((await doc.resolveArray(font.get("DescendantFonts")))![0]))!;
  const descriptor = (await doc.resolveDict(cidFont.get("FontDescriptor")))!;
  return { form, image, cidFont, descriptor };
}

describe("visible signatures on PDF/A documents", () => {
  it("PDF/A-1b: no soft mask (the stamp is flattened onto white), fonts embedded with a CIDSet, output intent kept", async () => {
    const { input, path } = await signVisibly("gs-pdfa1b.pdf", {});
    const verdict = await validate(path, rootPem);
    expect(verdict.failures, verdict.output).toEqual([]);
    const before = await openPdf(new BufferSource(input));
    const after = await openPdf(new BufferSource(await readFile(path)));
    const { image, cidFont, descriptor } = await sealOf(after);
    expect(image.has("SMask")).toBe(false);
    expect(isName(image.get("ColorSpace"), "DeviceRGB")).toBe(true);
    expect(isName(cidFont.get("Subtype"), "CIDFontType2")).toBe(true);
    expect(descriptor.has("FontFile2")).toBe(true);
    expect(descriptor.has("CIDSet")).toBe(true);
    // The catalog may be rewritten (AcroForm), but its output intent and metadata are the same objects.
    const intents = async (doc: PdfDocument) => (await doc.catalog()).get("OutputIntents");
    expect(await intents(after)).toEqual(await intents(before));
    expect((await after.catalog()).get("Metadata")).toEqual((await before.catalog()).get("Metadata"));
  });

  it("PDF/A-2b with a CMYK output intent: the stamp and the frame are written in DeviceCMYK, a soft mask is allowed", async () => {
    const { path } = await signVisibly("gs-pdfa2b-cmyk.pdf", { border: { width: 2, color: "#1f3a68" } });
    expect((await validate(path, rootPem)).failures).toEqual([]);
    const doc = await openPdf(new BufferSource(await readFile(path)));
    const { form, image } = await sealOf(doc);
    expect(isName(image.get("ColorSpace"), "DeviceCMYK")).toBe(true);
    expect(image.has("SMask")).toBe(true);
    // The seal's content stream is written unfiltered.
    const content = Buffer.from(await doc.streamBytes(form)).toString("latin1");
    expect(content).toMatch(/ K \d/);
    expect(content).not.toMatch(/ RG /);
  });

  it("refuses an RGB JPEG for a CMYK output intent (a JPEG is embedded as is) with E_APPEARANCE", async () => {
    const error = await signVisibly("gs-pdfa2b-cmyk.pdf", { image: stampJpg }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isEsignError(error) && error.code).toBe("E_APPEARANCE");
    expect((error as Error).message).toMatch(/PDF\/A with a CMYK output intent; a RGB JPEG seal/);
  });

  it("refuses an OpenType (CFF) font for PDF/A-1, whose PDF 1.4 has no OpenType font files", async () => {
    const error = await signVisibly("gs-pdfa1b.pdf", {
      fontPath: "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isEsignError(error) && error.code).toBe("E_APPEARANCE");
    expect((error as Error).message).toMatch(/PDF\/A-1, which cannot embed the OpenType \(CFF\) font/);
  });

  it("a document that declares no PDF/A keeps the soft mask and RGB", async () => {
    const { path } = await signVisibly("gs-contract.pdf", {});
    const { image } = await sealOf(await openPdf(new BufferSource(await readFile(path))));
    expect(image.has("SMask")).toBe(true);
    expect(isName(image.get("ColorSpace"), "DeviceRGB")).toBe(true);
  });
});
