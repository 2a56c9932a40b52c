import { corrupt, limitExceeded } from "../reader/limits";
import { NeedMoreData, Parser } from "../syntax/parser";
import type { ByteSource } from "./source";

/** A Buffer view of the same memory (no copy), for `indexOf` and `toString`. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const FIRST_WINDOW = 4096;
const SCAN_CHUNK = 1024 * 1024;

/**
 * Runs a parse over a window of the source starting at `offset`, growing the window (up to
 * `maxBytes`) whenever the parser runs off its end. Objects are small, so one 4 KiB read is
 * the usual case; a hostile multi-megabyte object hits the cap instead of the heap.
 */
export async function parseAt<T>(
  source: ByteSource,
  offset: number,
  maxBytes: number,
  maxDepth: number,
  parse: (parser: Parser, windowStart: number) => T,
  firstWindow = FIRST_WINDOW,
): Promise<T> {
  if (offset < 0 || offset >= source.size) throw corrupt(`offset ${offset} is outside the file`);
  // Bytes already in memory (a revision just written, a document held as a Buffer) cost nothing
  // to look at: all of them up to the cap at once, where a read window would be outgrown (a
  // signature dictionary's /Contents is tens of KB) and the object parsed again.
  const view = source.viewAt?.(offset, maxBytes);
  if (view) {
    try {
      return parse(new Parser(view, maxDepth, offset + view.length >= source.size), offset);
    } catch (error) {
      if (!(error instanceof NeedMoreData)) throw error;
      if (view.length >= maxBytes)
        throw limitExceeded(`an object at offset ${offset} is larger than ${maxBytes} bytes`);
      // The object runs on past that memory (into another part of the source): read windows.
    }
  }
  let window = Math.min(firstWindow, maxBytes);
  for (;;) {
    const buf = await source.read(offset, window);
    const complete = offset + buf.length >= source.size;
    try {
      return parse(new Parser(buf, maxDepth, complete), offset);
    } catch (error) {
      if (!(error instanceof NeedMoreData)) throw error;
      if (window >= maxBytes)
        throw limitExceeded(`an object at offset ${offset} is larger than ${maxBytes} bytes`);
      window = Math.min(window * 8, maxBytes);
    }
  }
}

/**
 * Finds the first occurrence of `needle` at or after `from`, reading bounded chunks.
 * Returns -1 when it is not found before `limit`.
 */
export async function findForward(
  source: ByteSource,
  needle: string,
  from: number,
  limit = source.size,
): Promise<number> {
  const pattern = Buffer.from(needle, "latin1");
  const overlap = pattern.length - 1;
  for (let start = from; start < limit; start += SCAN_CHUNK) {
    const chunk = asBuffer(await source.read(start, Math.min(SCAN_CHUNK + overlap, limit - start)));
    const index = chunk.indexOf(pattern);
    if (index >= 0) return start + index;
  }
  return -1;
}

/** Where `findInTail` looks first: the final `startxref` is normally within the last 50 bytes. */
const NEAR_TAIL = 1024;

/**
 * Finds the last occurrence of `needle` in the final `tailBytes` of the source. The last KiB is
 * searched first (an occurrence there is the last one), so a signed output, whose tail is its
 * newest revision, is not read across into the original for it.
 */
export async function findInTail(source: ByteSource, needle: string, tailBytes: number): Promise<number> {
  const pattern = Buffer.from(needle, "latin1");
  const lastIn = async (bytes: number) => {
    const start = Math.max(0, source.size - bytes);
    const index = asBuffer(await source.read(start, source.size - start)).lastIndexOf(pattern);
    return index < 0 ? -1 : start + index;
  };
  if (tailBytes > NEAR_TAIL) {
    const near = await lastIn(NEAR_TAIL);
    if (near >= 0) return near;
  }
  return lastIn(tailBytes);
}

/**
 * Visits the whole source in bounded chunks that overlap by `overlap` bytes, so a pattern
 * up to that length is never split. Used only by damaged-file recovery.
 */
export async function forEachChunk(
  source: ByteSource,
  overlap: number,
  visit: (chunk: Buffer, chunkStart: number) => void | Promise<void>,
): Promise<void> {
  for (let start = 0; start < source.size; start += SCAN_CHUNK) {
    const length = Math.min(SCAN_CHUNK + overlap, source.size - start);
    await visit(asBuffer(await source.read(start, length)), start);
    if (start + length >= source.size) return;
  }
}
