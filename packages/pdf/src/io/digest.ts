import { createHash } from "node:crypto";
import { EsignError } from "@esign/errors";
import { type ByteSource, readChunks } from "./source";

/**
 * Hashes the bytes a /ByteRange covers, streamed in bounded chunks: never the whole file in
 * memory. Ranges must lie inside the source.
 */
export async function hashByteRange(
  source: ByteSource,
  byteRange: readonly number[],
  algorithm = "sha256",
): Promise<Buffer> {
  if (byteRange.length % 2 !== 0 || byteRange.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new EsignError("E_PDF_CORRUPT", "invalid /ByteRange");
  }
  const hash = createHash(algorithm);
  for (let i = 0; i < byteRange.length; i += 2) {
    const start = byteRange[i]!;
    const end = start + byteRange[i + 1]!;
    if (end > source.size) throw new EsignError("E_PDF_CORRUPT", "/ByteRange runs past the end of the file");
    for await (const chunk of readChunks(source, start, end, { reuseBuffer: true })) hash.update(chunk);
  }
  return hash.digest();
}
