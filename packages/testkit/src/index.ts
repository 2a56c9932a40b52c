import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const run = promisify(execFile);

/** The repository root (this file is packages/testkit/src/index.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * `shared/` (validators and sample PDFs) sits beside the checkout, in development and in CI alike;
 * ESIGN_SHARED_DIR points elsewhere when it does not.
 */
export const SHARED_DIR = process.env.ESIGN_SHARED_DIR ?? resolve(REPO_ROOT, "../shared");
export const SAMPLES_DIR = join(SHARED_DIR, "samples");
export const VALIDATE = join(SHARED_DIR, "validate/validate.sh");
export const TAMPER = join(SHARED_DIR, "validate/tamper.sh");

/**
 * The path of a `shared/` tool, checked when a test runs it rather than when testkit is imported:
 * importing testkit (for REPO_ROOT, say) must work on a checkout without `shared/`.
 */
function sharedTool(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`${path} not found; set ESIGN_SHARED_DIR to the shared/ folder (validators and samples)`);
  }
  return path;
}

export interface ValidateResult {
  ok: boolean;
  output: string;
  /** `check` ids (e.g. "sig#1 openssl-cms") of the lines that FAILed. */
  failures: string[];
}

function checkId(line: string): string {
  return line.split(/\s+/).slice(0, 2).join(" ");
}

/**
 * Runs validate.sh. A verdict, even a failing one, is returned (a test can assert on failures
 * too); it throws only when `shared/` is missing. `pdfPassword` opens an encrypted file
 * (validate.sh's PDF_PASSWORD).
 */
export async function validate(
  file: string,
  root?: string,
  options: { pdfPassword?: string } = {},
): Promise<ValidateResult> {
  const validator = sharedTool(VALIDATE);
  let output: string;
  let ok: boolean;
  const env =
    options.pdfPassword === undefined ? process.env : { ...process.env, PDF_PASSWORD: options.pdfPassword };
  try {
    const { stdout } = await run(validator, root ? [file, root] : [file], {
      maxBuffer: 16 * 1024 * 1024,
      env,
    });
    output = stdout;
    ok = true;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    output = `${failed.stdout ?? ""}${failed.stderr ?? ""}`;
    ok = false;
  }
  const ran = /\d+ passed, \d+ failed/.test(output);
  const failures = output
    .split("\n")
    .filter((line) => /\sFAIL\s/.test(line))
    .map(checkId);
  return { ok: ok && ran, output, failures: ran ? failures : ["validate.sh did not run"] };
}

/**
 * validate.sh trusts one root per run (pdfsig's NSS db takes one). For files whose signatures
 * chain to different roots, a check counts as failed only if it fails under every root.
 */
export async function failuresUnderRoots(file: string, roots: string[]): Promise<ValidateResult> {
  const runs = await Promise.all(roots.map((root) => validate(file, root)));
  const failing = runs.map((result) => new Set(result.failures));
  const failures = [...failing[0]!].filter((id) => failing.every((set) => set.has(id)));
  return { ok: failures.length === 0, output: runs.map((r) => r.output).join("\n"), failures };
}

/** Copies `signed` to `out` with one signed byte flipped (shared/validate/tamper.sh). */
export async function tamper(signed: string, out: string): Promise<void> {
  await run(sharedTool(TAMPER), [signed, out]);
}
export * from "./render";
