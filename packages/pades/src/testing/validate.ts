import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
export const VALIDATE_SH = "/work/shared/validate/validate.sh";
export const TAMPER_SH = "/work/shared/validate/tamper.sh";

async function validateOnce(file: string, root: string): Promise<string> {
  try {
    const { stdout } = await run(VALIDATE_SH, [file, root], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return `${failed.stdout ?? ""}${failed.stderr ?? ""}`;
  }
}

/**
 * Runs the shared judge, validate.sh, once per trust root (pdfsig's NSS database takes one), so
 * files whose signatures chain to different roots can be judged. A check fails only if it fails
 * under every root. `failures` lists them as "<check> <signature>"; a run that did not reach its
 * summary line counts as a failure.
 */
export async function validatePdf(
  file: string,
  roots: string[],
): Promise<{ failures: string[]; output: string }> {
  const outputs = await Promise.all(roots.map((root) => validateOnce(file, root)));
  const failing = outputs.map(
    (output) =>
      new Set(
        output
          .split("\n")
          .filter((line) => /\sFAIL\s/.test(line))
          .map((line) => line.trim().split(/\s+/).slice(0, 2).join(" ")),
      ),
  );
  const failures = [...failing[0]!].filter((id) => failing.every((set) => set.has(id)));
  const complete = outputs.every((output) => /\d+ passed, \d+ failed/.test(output));
  return {
    failures: complete ? failures : ["validate.sh did not finish", ...failures],
    output: outputs.join("\n"),
  };
}

/** tamper.sh: one signed byte flipped, structure intact. */
export async function tamperPdf(file: string, out: string): Promise<void> {
  await run(TAMPER_SH, [file, out]);
}
