import { FileSource } from "@esign/pdf";
import { signPdf, writeSignedPdf } from "@esign/pipeline";
import { createP12Signer } from "@esign/signers";
import type { LoadTool } from "./types";

/** Our engine: range reads from the file, one incremental revision, streamed digest and copy. */
export const loadEsign: LoadTool = async ({ p12Path, password }) => {
  const signer = await createP12Signer({ credentials: { p12Path, password } });
  return async (input, output) => {
    const source = await FileSource.open(input);
    try {
      const signed = await signPdf(source, signer, { level: "B-B" });
      await writeSignedPdf(signed.output, output, input);
    } finally {
      await source.close();
    }
  };
};
