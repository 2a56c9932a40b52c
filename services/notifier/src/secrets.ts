import { createHmac } from "node:crypto";
import { z } from "zod";

const SECRET_PREFIX = "whsec_";
// Standard Webhooks: secrets SHOULD be between 24 and 64 random bytes.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/** A `whsec_<base64>` secret, validated and turned into its raw key bytes. */
export const WebhookSecretSchema = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "webhook secrets look like whsec_<base64>")
  .transform((secret, context) => {
    const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
    if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
      context.addIssue({
        code: "custom",
        message: `webhook secrets must decode to ${MIN_SECRET_BYTES}..${MAX_SECRET_BYTES} bytes, got ${key.length}`,
      });
      return z.NEVER;
    }
    return key;
  });

/**
 * The `webhook-signature` header value: one `v1,<base64 HMAC-SHA256>` per active secret,
 * space-separated, so a receiver that knows either the old or the new secret during a
 * rotation verifies the message.
 */
export function signatureHeader(
  keys: readonly Buffer[],
  messageId: string,
  timestampSeconds: number,
  body: string,
): string {
  const signedContent = `${messageId}.${timestampSeconds}.${body}`;
  return keys
    .map((key) => `v1,${createHmac("sha256", key).update(signedContent).digest("base64")}`)
    .join(" ");
}
