import type { RevocationOptions } from "@esign/pades";
import type { PdfLimits } from "@esign/pdf";
import type { Signer } from "@esign/signers";
import {
  assertCompletable,
  checkSignResult,
  complete,
  type SignedPdf,
  signRequestOf,
  verifyOutput,
} from "./complete";
import type { DocumentTimestamper } from "./ltv";
import { type PrepareOptions, prepare, type VersionedSource } from "./prepare";

export interface SignPdfOptions extends PrepareOptions {
  /** The time-stamp authority for the /DocTimeStamp of B-LTA (e.g. a TsaClient). */
  documentTimestamper?: DocumentTimestamper;
  /** Timeouts for fetching OCSP responses and CRLs (B-LT when the signer sends no LTV data). */
  revocation?: RevocationOptions;
  limits?: Partial<PdfLimits>;
}

/**
 * Signs a PDF by incremental update in one go: prepare (revision and local digest), let the signer
 * turn only that digest into a CMS, check it, complete (embed, B-LT, B-LTA), verify the output.
 * The worker runs the same stages with a checkpoint between them.
 */
export async function signPdf(
  source: VersionedSource,
  signer: Signer,
  options: SignPdfOptions,
): Promise<SignedPdf> {
  // Refuse before the remote call: a signature we cannot extend to the asked level is a waste.
  assertCompletable(options.level, options);
  const prepared = await prepare(source, signer, options);
  const result = await signer.sign(signRequestOf(prepared));
  await checkSignResult(prepared, result, await signer.describe());
  const signed = await complete(source, prepared, result, options);
  await verifyOutput(signed.output, prepared, result, options.limits);
  return signed;
}
