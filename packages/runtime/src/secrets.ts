import { readFileSync } from "node:fs";
import { EsignError } from "@esign/errors";
import { z } from "zod";

/**
 * A secret is named, never written into configuration: `{"env": "VAR"}` or `{"file": "/run/secrets/x"}`,
 * so configuration can live in a ConfigMap or a compose file while the secret stays in a Secret.
 */
export const SecretRefSchema = z.union([
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretRef = z.infer<typeof SecretRefSchema>;

/** The referenced secret (a file's content without surrounding whitespace); E_CONFIG naming what is missing. */
export function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if ("env" in ref) {
    const value = env[ref.env];
    if (!value) throw new EsignError("E_CONFIG", `secret variable ${ref.env} is not set`);
    return value;
  }
  try {
    return readFileSync(ref.file, "utf8").trim();
  } catch (cause) {
    throw new EsignError("E_CONFIG", `cannot read ${ref.file}`, { cause });
  }
}
