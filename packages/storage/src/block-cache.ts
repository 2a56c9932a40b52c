import { EsignError } from "@esign/errors";
import type { StoredObjectSource } from "./store";

/** Fetches bytes [start, end) of the object; must return exactly that many bytes. */
export type RangeFetcher = (start: number, end: number) => Promise<Uint8Array>;

export interface BlockCacheOptions {
  /** Unit of fetching and caching. The PDF reader's small reads cluster, so one block serves many. */
  blockSize?: number;
  /** Blocks kept, least recently used evicted first. */
  maxBlocks?: number;
}

export interface SourceStats {
  /** Range requests sent to the backend. */
  requests: number;
  bytesFetched: number;
}

export const DEFAULT_BLOCK_SIZE = 256 * 1024;
const DEFAULT_MAX_BLOCKS = 32;

/**
 * A ByteSource over a remote object that turns many small reads into few block-sized range
 * requests. Reads spanning at least two blocks (the digest and the output copy stream the
 * document sequentially) go straight to the backend and are not cached: they would only evict
 * the blocks the PDF reader keeps coming back to (trailer, xref, page tree).
 */
export class BlockCachedSource implements StoredObjectSource {
  readonly stats: SourceStats = { requests: 0, bytesFetched: 0 };
  private readonly blocks = new Map<number, Promise<Uint8Array>>();
  private readonly blockSize: number;
  private readonly maxBlocks: number;

  constructor(
    readonly store: string,
    readonly key: string,
    readonly size: number,
    readonly etag: string,
    private readonly fetchRange: RangeFetcher,
    options: BlockCacheOptions = {},
  ) {
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.maxBlocks = options.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new EsignError("E_INTERNAL", `invalid read(${offset}, ${length})`);
    }
    const end = Math.min(offset + length, this.size);
    if (end <= offset) return new Uint8Array(0);
    if (end - offset >= 2 * this.blockSize) return this.fetch(offset, end);

    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((end - 1) / this.blockSize);
    const blocks = await Promise.all(
      Array.from({ length: last - first + 1 }, (_, index) => this.block(first + index)),
    );
    const start = offset - first * this.blockSize;
    if (blocks.length === 1) return blocks[0]!.subarray(start, start + (end - offset));
    return Buffer.concat(blocks).subarray(start, start + (end - offset));
  }

  /**
   * Hands over the first block, fetched with the open request, so small objects cost one request
   * in all. Ignored unless it is the whole block.
   */
  seedFirstBlock(bytes: Uint8Array): void {
    if (bytes.length === Math.min(this.blockSize, this.size) && bytes.length > 0) {
      this.blocks.set(0, Promise.resolve(bytes));
    }
  }

  async close(): Promise<void> {
    this.blocks.clear();
  }

  private block(index: number): Promise<Uint8Array> {
    const cached = this.blocks.get(index);
    if (cached) {
      // Re-insert: Map iteration order is insertion order, which makes the first key the LRU one.
      this.blocks.delete(index);
      this.blocks.set(index, cached);
      return cached;
    }
    const start = index * this.blockSize;
    const pending = this.fetch(start, Math.min(start + this.blockSize, this.size));
    // Concurrent readers of the same block share one request; a failed request is not cached.
    pending.catch(() => {
      if (this.blocks.get(index) === pending) this.blocks.delete(index);
    });
    this.blocks.set(index, pending);
    if (this.blocks.size > this.maxBlocks) this.blocks.delete(this.blocks.keys().next().value!);
    return pending;
  }

  private async fetch(start: number, end: number): Promise<Uint8Array> {
    this.stats.requests += 1;
    const bytes = await this.fetchRange(start, end);
    if (bytes.length !== end - start) {
      throw new EsignError(
        "E_STORAGE",
        `${this.store}:${this.key}: asked for bytes ${start}-${end - 1}, got ${bytes.length} bytes`,
      );
    }
    this.stats.bytesFetched += bytes.length;
    return bytes;
  }
}
