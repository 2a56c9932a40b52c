import type { Signer } from "@esign/signers";
import {
  assertCompletable,
  type CompleteOptions,
  checkSignResult,
  complete,
  type OutputCheck,
  type SignedPdf,
  signRequestOf,
  verifyOutput,
} from "./complete";
import { type PrepareOptions, prepareWithInput, type VersionedSource } from "./prepare";

export interface SignPdfOptions extends PrepareOptions, CompleteOptions {
  /** Told each warning as soon as it is known: those found before signing before the signer is asked. */
  onWarning?(warning: string): void;
}

/** A signed PDF whose output passed `verifyOutput`, with what it found. */
export interface VerifiedSignedPdf extends SignedPdf {
  /** B-LT and B-LTA: whether the output is "LTV enabled", and which certificates lack what. */
  ltv?: OutputCheck["ltv"];
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
): Promise<VerifiedSignedPdf> {
  // Refuse before the remote call: a signature we cannot extend to the asked level is a waste.
  assertCompletable(options.level, options);
  const { prepared, input } = await prepareWithInput(source, signer, options);
  // Complete and verify re-open the output over the input: only the revisions after it are parsed.
  const opened = { ...options, openedInput: input };
  for (const warning of prepared.warnings ?? []) options.onWarning?.(warning);
  const result = await signer.sign(signRequestOf(prepared));
  await checkSignResult(prepared, result, await signer.describe());
  const signed = await complete(source, prepared, result, opened);
  const check = await verifyOutput(signed.output, prepared, result, opened);
  for (const warning of check.warnings.slice(signed.warnings.length)) options.onWarning?.(warning);
  return { ...signed, warnings: check.warnings, ...(check.ltv && { ltv: check.ltv }) };
}
