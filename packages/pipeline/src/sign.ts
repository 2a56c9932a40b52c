import type { Signer } from "@esign/signers";
import {
  assertCompletable,
  type CompleteOptions,
  checkSignResult,
  complete,
  type SignedPdf,
  signRequestOf,
  verifyOutput,
} from "./complete";
import { type PrepareOptions, prepare, type VersionedSource } from "./prepare";

export interface SignPdfOptions extends PrepareOptions, CompleteOptions {}

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
  await verifyOutput(signed.output, prepared, result, options);
  return signed;
}
