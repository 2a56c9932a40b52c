import { EsignError } from "@esign/errors";

/** A transient storage failure: the queue retries the job. */
export function storageError(what: string, cause: unknown): EsignError {
  const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new EsignError("E_STORAGE", `${what} failed: ${detail}`, { cause });
}
