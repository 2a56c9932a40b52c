import { EsignError } from "@esign/errors";

/** S3's own limit on key length, in UTF-8 bytes; the local store follows it so both accept the same keys. */
export const MAX_KEY_BYTES = 1024;

/**
 * The local store's in-progress writes carry this suffix and listings skip them, so no store
 * accepts keys ending with it: a key one store refuses must be refused before work starts.
 */
export const RESERVED_KEY_SUFFIX = ".esign-partial";

/** Why a key is unusable, or undefined when it is fine. Shared by the zod schema and the stores. */
export function keyProblem(
  key: string,
): { code: "E_FORBIDDEN" | "E_INVALID_JOB"; message: string } | undefined {
  if (key.length === 0) return { code: "E_INVALID_JOB", message: "object key is empty" };
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    return { code: "E_INVALID_JOB", message: `object key is longer than ${MAX_KEY_BYTES} bytes` };
  }
  // Control characters (NUL above all) truncate paths in C APIs and corrupt logs.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point
  if (/[\u0000-\u001f\u007f]/.test(key)) {
    return { code: "E_INVALID_JOB", message: "object key contains a control character" };
  }
  // Everything below could make a key escape its store's root or prefix.
  if (key.includes("\\")) return { code: "E_FORBIDDEN", message: "object key contains a backslash" };
  if (key.startsWith("/")) return { code: "E_FORBIDDEN", message: "object key is an absolute path" };
  if (/^[A-Za-z]:/.test(key))
    return { code: "E_FORBIDDEN", message: "object key starts with a drive letter" };
  const segments = key.split("/");
  if (segments.some((segment) => segment === ".." || segment === ".")) {
    return { code: "E_FORBIDDEN", message: "object key contains a '.' or '..' path segment" };
  }
  if (segments.some((segment) => segment === "")) {
    return { code: "E_INVALID_JOB", message: "object key contains an empty path segment" };
  }
  if (key.endsWith(RESERVED_KEY_SUFFIX)) {
    return { code: "E_INVALID_JOB", message: `object keys ending in ${RESERVED_KEY_SUFFIX} are reserved` };
  }
  return undefined;
}

/** Throws E_FORBIDDEN (escape attempts) or E_INVALID_JOB (malformed keys). */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new EsignError(problem.code, `${problem.message}: ${JSON.stringify(key.slice(0, 200))}`);
}
