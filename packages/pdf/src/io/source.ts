import { createWriteStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";

/**
 * Random access to a document's bytes. The PDF reader and the digest only ever ask for
 * ranges, so a 300 MB file (or an S3 object read with Range requests) never has to be in memory.
 */
export interface ByteSource {
  readonly size: number;
  /** Returns exactly `length` bytes unless the range runs past `size`, then what is there. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: fills `target` with the bytes at `offset` without allocating and returns how
   * many it wrote. Streaming digests reuse one buffer through it, so a 300 MB file does not
   * leave 300 garbage buffers for the GC to catch up with.
   */
  readInto?(target: Uint8Array, offset: number): Promise<number>;
  /**
   * Optional: the bytes from `offset` as a view of memory the source already holds, without a
   * copy or an await: up to `maxLength` of them, fewer where that memory ends (at least one), or
   * undefined when they are not in memory. Chunked readers (hashing, copying out) take these in
   * place of reads. A view is never written to, and stays valid as long as the source.
   */
  viewAt?(offset: number, maxLength: number): Uint8Array | undefined;
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

  viewAt(offset: number, maxLength: number): Uint8Array | undefined {
    if (offset < 0 || offset >= this.size || maxLength <= 0) return undefined;
    return this.bytes.subarray(offset, Math.min(offset + maxLength, this.size));
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
    const buffer = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.size - offset)));
    return buffer.subarray(0, await this.readInto(buffer, offset));
  }

  async readInto(target: Uint8Array, offset: number): Promise<number> {
    const wanted = Math.max(0, Math.min(target.length, this.size - offset));
    let filled = 0;
    while (filled < wanted) {
      const { bytesRead } = await this.handle.read(target, filled, wanted - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled;
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
    /** The first `base.size` bytes: a reader of this source reads them from `base`, unchanged. */
    readonly base: ByteSource,
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

  async readInto(target: Uint8Array, offset: number): Promise<number> {
    const baseSize = this.base.size;
    const end = Math.min(offset + target.length, this.size);
    if (offset >= end) return 0;
    // The base's part straight into the target, then the appended part: no joined copy in between.
    let filled = 0;
    if (offset < baseSize) {
      const head = target.subarray(0, Math.min(end, baseSize) - offset);
      if (this.base.readInto) filled = await this.base.readInto(head, offset);
      else {
        const bytes = await this.base.read(offset, head.length);
        head.set(bytes);
        filled = bytes.length;
      }
      if (filled < head.length || end <= baseSize) return filled;
    }
    const from = Math.max(offset, baseSize) - baseSize;
    target.set(this.appended.subarray(from, end - baseSize), filled);
    return filled + (end - baseSize - from);
  }

  viewAt(offset: number, maxLength: number): Uint8Array | undefined {
    if (offset < 0 || offset >= this.size || maxLength <= 0) return undefined;
    const baseSize = this.base.size;
    if (offset < baseSize) return this.base.viewAt?.(offset, Math.min(maxLength, baseSize - offset));
    return this.appended.subarray(offset - baseSize, Math.min(offset + maxLength, this.size) - baseSize);
  }

  async close(): Promise<void> {
    await this.base.close?.();
  }
}

const COPY_CHUNK = 1024 * 1024;

/**
 * Streams the bytes of `source` from `start` to `end` in bounded chunks. Bytes the source holds
 * in memory come as views of it (`viewAt`), neither copied nor awaited. With `reuseBuffer` the
 * others are read into one buffer that the next iteration overwrites: only for consumers that are
 * done with a chunk before asking for the next (hashing), never for queued writes.
 */
export async function* readChunks(
  source: ByteSource,
  start = 0,
  end = source.size,
  options: { chunkSize?: number; reuseBuffer?: boolean } = {},
): AsyncGenerator<Uint8Array> {
  const chunkSize = options.chunkSize ?? COPY_CHUNK;
  let shared: Buffer | undefined;
  for (let offset = start; offset < end; ) {
    const length = Math.min(chunkSize, end - offset);
    let chunk = source.viewAt?.(offset, length);
    if (!chunk && options.reuseBuffer && source.readInto) {
      // Allocated on first need, no bigger than the range: a 31 KB document needs no 1 MiB buffer.
      shared ??= Buffer.allocUnsafe(Math.min(chunkSize, end - start));
      chunk = shared.subarray(0, await source.readInto(shared.subarray(0, length), offset));
    }
    chunk ??= await source.read(offset, length);
    if (chunk.length === 0) return;
    yield chunk;
    offset += chunk.length;
  }
}

/**
 * Writes `source` followed by `revision` (a signed output) to a file path or a Writable and
 * ends it. One reused chunk buffer: each write completes before the buffer is refilled.
 */
export async function writeWithRevision(
  source: ByteSource,
  revision: Uint8Array,
  destination: Writable | string,
): Promise<void> {
  const target = typeof destination === "string" ? createWriteStream(destination) : destination;
  try {
    for await (const chunk of readChunks(source, 0, source.size, { reuseBuffer: true }))
      await writeChunk(target, chunk);
    await writeChunk(target, revision);
    target.end();
    await finished(target);
  } catch (error) {
    target.destroy(error as Error);
    throw error;
  }
}

function writeChunk(target: Writable, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    target.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}
