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
 * P12Signer keeps the PKCS#12 bytes and decrypts them with node-forge inside every sign(): that
 * part of the key handling is per document by @signpdf's design, so it stays in the timed work.
 */
async function loadP12Signer({ p12Path, password }: KeyFile): Promise<P12Signer> {
  return new P12Signer(await readFile(p12Path), { passphrase: password });
}

/** pdf-lib loads the whole document, @signpdf adds the field, pdf-lib rewrites every object. */
export const loadSignpdfPdfLib: LoadTool = async (key) => {
  const signer = await loadP12Signer(key);
  return async (input, output) => {
    const pdfDoc = await PDFDocument.load(await readFile(input));
    pdflibAddPlaceholder({ pdfDoc, ...SIGNATURE_INFO });
    const withPlaceholder = Buffer.from(await pdfDoc.save({ useObjectStreams: false }));
    await writeFile(output, await new SignPdf().sign(withPlaceholder, signer));
  };
};

/** @signpdf's own parser appends an incremental update to the buffer it was given. */
export const loadSignpdfPlain: LoadTool = async (key) => {
  const signer = await loadP12Signer(key);
  return async (input, output) => {
    const withPlaceholder = plainAddPlaceholder({ pdfBuffer: await readFile(input), ...SIGNATURE_INFO });
    await writeFile(output, await new SignPdf().sign(withPlaceholder, signer));
  };
};
