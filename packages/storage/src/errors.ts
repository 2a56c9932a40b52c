import { EsignError } from "@esign/errors";

/** A transient storage failure: the queue retries the job. */
export function storageError(what: string, cause: unknown): EsignError {
  const detail = cause instanceof Error ? describeCause(cause) : String(cause);
  return new EsignError("E_STORAGE", `${what} failed: ${detail}`, { cause });
}

/**
 * Node's filesystem errors name the absolute path in their message ("EACCES: permission denied,
 * open '/srv/data/...'"): clients see these messages, so such errors are told by code and call only.
 */
function describeCause(cause: Error): string {
  const { code, syscall, path } = cause as NodeJS.ErrnoException;
  if (path !== undefined && code !== undefined) return syscall ? `${code} (${syscall})` : code;
  return `${cause.name}: ${cause.message}`;
}
