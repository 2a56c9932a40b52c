import { createWriteStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * Random access to a document's bytes. The PDF reader and the digest only ever ask for
 * ranges, so a 300 MB file (or an S3 object read with Range requests) never has to be in memory.
 */
export interface ByteSource {
  readonly size: number;
  /** Returns exactly `length` bytes unless the range runs past `size`, then what is there. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.bytes.subarray(offset, Math.min(offset + length, this.size));
  }
}

export class FileSource implements ByteSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const handle = await open(path, "r");
    const { size } = await handle.stat();
    return new FileSource(handle, size);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const wanted = Math.max(0, Math.min(length, this.size - offset));
    const buffer = Buffer.allocUnsafe(wanted);
    let filled = 0;
    while (filled < wanted) {
      const { bytesRead } = await this.handle.read(buffer, filled, wanted - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * A source followed by appended bytes: a signed output (original + new revision) re-opened
 * for the next signature or for verification without copying the original.
 */
export class ConcatSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly base: ByteSource,
    private readonly appended: Uint8Array,
  ) {
    this.size = base.size + appended.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return new Uint8Array(0);
    const baseSize = this.base.size;
    if (end <= baseSize) return this.base.read(offset, end - offset);
    if (offset >= baseSize) return this.appended.subarray(offset - baseSize, end - baseSize);
    const head = await this.base.read(offset, baseSize - offset);
    return Buffer.concat([head, this.appended.subarray(0, end - baseSize)]);
  }

  async close(): Promise<void> {
    await this.base.close?.();
  }
}

const COPY_CHUNK = 1024 * 1024;

/** Streams every byte of `source` in bounded chunks (for digests and copies). */
export async function* readChunks(
  source: ByteSource,
  start = 0,
  end = source.size,
  chunkSize = COPY_CHUNK,
): AsyncGenerator<Uint8Array> {
  for (let offset = start; offset < end; offset += chunkSize) {
    const chunk = await source.read(offset, Math.min(chunkSize, end - offset));
    if (chunk.length === 0) return;
    yield chunk;
  }
}

/**
 * Writes `source` followed by `revision` (a signed output) to a stream or a file path,
 * one chunk in memory at a time; respects backpressure.
 */
export async function writeWithRevision(
  source: ByteSource,
  revision: Uint8Array,
  destination: Writable | string,
): Promise<void> {
  async function* all(): AsyncGenerator<Uint8Array> {
    yield* readChunks(source);
    yield revision;
  }
  const target = typeof destination === "string" ? createWriteStream(destination) : destination;
  await pipeline(all(), target);
}
