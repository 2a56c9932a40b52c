import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Compares secrets in constant time; hashing first makes the lengths equal. */
export function constantTimeEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** An unguessable bearer secret (access token, SAD). */
export function newSecret(): string {
  return randomBytes(24).toString("base64url");
}
