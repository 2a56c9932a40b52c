import { readFile, writeFile } from "node:fs/promises";
import { pdflibAddPlaceholder } from "@signpdf/placeholder-pdf-lib";
import { plainAddPlaceholder } from "@signpdf/placeholder-plain";
import { P12Signer } from "@signpdf/signer-p12";
import { SignPdf } from "@signpdf/signpdf";
import { PDFDocument } from "pdf-lib";
import type { KeyFile, LoadTool } from "./types";

/** The fields @signpdf requires for its signature dictionary. */
const SIGNATURE_INFO = {
  reason: "benchmark",
  contactInfo: "bench@example.com",
  name: "Test Signer",
  location: "bench",
};

/**
 * Reads the PKCS#12 once. A P12Signer is single-use (its first sign() consumes the forge buffer
 * holding the PKCS#12: a second one fails with "Too few bytes to parse DER"), and it decrypts the
 * PKCS#12 with node-forge inside sign(): so one per document, and that cost stays in the timed work.
 */
async function p12SignerFactory({ p12Path, password }: KeyFile): Promise<() => P12Signer> {
  const p12 = await readFile(p12Path);
  return () => new P12Signer(p12, { passphrase: password });
}

/** pdf-lib loads the whole document, @signpdf adds the field, pdf-lib rewrites every object. */
export const loadSignpdfPdfLib: LoadTool = async (key) => {
  const newSigner = await p12SignerFactory(key);
  return async (input, output) => {
    const pdfDoc = await PDFDocument.load(await readFile(input));
    pdflibAddPlaceholder({ pdfDoc, ...SIGNATURE_INFO });
    const withPlaceholder = Buffer.from(await pdfDoc.save({ useObjectStreams: false }));
    await writeFile(output, await new SignPdf().sign(withPlaceholder, newSigner()));
  };
};

/** @signpdf's own parser appends an incremental update to the buffer it was given. */
export const loadSignpdfPlain: LoadTool = async (key) => {
  const newSigner = await p12SignerFactory(key);
  return async (input, output) => {
    const withPlaceholder = plainAddPlaceholder({ pdfBuffer: await readFile(input), ...SIGNATURE_INFO });
    await writeFile(output, await new SignPdf().sign(withPlaceholder, newSigner()));
  };
};
