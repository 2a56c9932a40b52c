import { randomBytes } from "node:crypto";
import { open, realpath, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
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
    // One reused buffer, each write awaited before it is refilled: memory stays flat however
    // large the document (a fresh 1 MiB chunk per read would wait for the GC to be freed).
    const file = await open(temporary, "wx");
    try {
      for await (const chunk of readChunks(output, 0, output.size, { reuseBuffer: true })) {
        // write() may write less than asked (signals, quotas): loop until the chunk is out.
        for (let written = 0; written < chunk.length; ) {
          written += (await file.write(chunk, written, chunk.length - written)).bytesWritten;
        }
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    if (error instanceof EsignError) throw error;
    throw new EsignError("E_STORAGE", `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
