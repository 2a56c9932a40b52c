import { EsignError, isEsignError } from "@esign/errors";
import { failureReason } from "@esign/jobs";
import { UnrecoverableError } from "bullmq";

/** Anything thrown while signing, as an EsignError: unknown failures are E_INTERNAL and retried. */
export function asEsignError(error: unknown): EsignError {
  if (isEsignError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new EsignError("E_INTERNAL", message, { cause: error });
}

/**
 * The error BullMQ gets: permanent failures as UnrecoverableError (no further attempts), others
 * as plain errors the job's backoff retries. Both carry `E_CODE: message` as the failed reason,
 * which `parseFailureReason` in @esign/jobs turns back into a code.
 */
export function toQueueError(error: EsignError): Error {
  const reason = failureReason(error);
  return error.permanent ? new UnrecoverableError(reason) : new Error(reason);
}
