import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { realpath, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { EsignError } from "@esign/errors";
import { type ByteSource, readChunks } from "@esign/pdf";

async function canonical(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return join(await realpath(dirname(resolve(path))).catch(() => dirname(resolve(path))), basename(path));
  }
}

/**
 * Writes a signed document to `path` atomically: a temporary file beside it, renamed into place
 * only when complete, so a crash or a failed check never leaves a half-written PDF. Refuses to
 * write over `inputPath`: the input is the customer's original and stays untouched.
 */
export async function writeSignedPdf(output: ByteSource, path: string, inputPath?: string): Promise<void> {
  const target = await canonical(path);
  if (inputPath && target === (await canonical(inputPath))) {
    throw new EsignError("E_CONFIG", "the output path is the input file; the input is never overwritten");
  }
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await pipeline(readChunks(output), createWriteStream(temporary, { flags: "wx" }));
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    if (error instanceof EsignError) throw error;
    throw new EsignError("E_STORAGE", `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
