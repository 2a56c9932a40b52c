import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import { EsignError } from "@esign/errors";
import type { ByteSource } from "@esign/pdf";
import { assertValidKey } from "./keys";

export interface ObjectInfo {
  size: number;
  /** Changes whenever the content changes; opaque, compare for equality only. */
  etag: string;
}

export interface ListedObject extends ObjectInfo {
  key: string;
  lastModified: Date;
}

export interface WriteOptions {
  contentType?: string;
}

export interface WrittenObject extends ObjectInfo {
  key: string;
  /** Hex SHA-256 of the bytes written, computed while streaming. */
  sha256: string;
}

export interface ListOptions {
  /** Resume a listing after this key (exclusive), e.g. after a crash halfway through a batch. */
  startAfter?: string;
  /** Keys fetched per request where the backend pages (S3); the iterator hides the paging. */
  pageSize?: number;
}

export interface ReadOptions {
  /** Refuse objects larger than this (E_TOO_LARGE): `read` is for manifests, not documents. */
  maxBytes?: number;
}

/** A ByteSource that remembers which stored object it reads, so outputs can refuse to overwrite it. */
export interface StoredObjectSource extends ByteSource {
  readonly store: string;
  readonly key: string;
  readonly etag: string;
}

/**
 * Sees every byte `writeSignedOutput` stores, in order, and may refuse the object before its last
 * byte is stored: a refused write leaves no object (and replaces none), like any failed write.
 */
export interface WriteCheck {
  update(chunk: Uint8Array): void;
  /** Called once all bytes went through `update`, before the last is stored; throws to refuse. */
  final(): void;
}

/** Bytes to store: a stream, an async generator, or simply `[buffer]`. */
export type WritableBody = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable;

export interface ObjectStore {
  readonly name: string;
  stat(key: string): Promise<ObjectInfo>;
  exists(key: string): Promise<boolean>;
  /** Random access for the PDF reader; fails with E_STORAGE if the object changes while it is read. */
  openSource(key: string): Promise<StoredObjectSource>;
  /** Whole small object (manifests, configuration); documents go through `openSource`. */
  read(key: string, options?: ReadOptions): Promise<Uint8Array>;
  /** Streams `body` into `key`; readers see either the previous object or the complete new one. */
  write(key: string, body: WritableBody, options?: WriteOptions): Promise<WrittenObject>;
  /**
   * Writes `source` bytes followed by `revision` (an incremental update) without holding the
   * document in memory. Refuses to overwrite the object `source` reads from. `check` sees the
   * bytes on their way out and can refuse them (the pipeline's `byteRangeCheck`).
   */
  writeSignedOutput(
    key: string,
    source: ByteSource,
    revision: Uint8Array,
    check?: WriteCheck,
  ): Promise<WrittenObject>;
  /**
   * Refuses (E_INVALID_JOB) a key this store could not write, e.g. under a local file: for checking
   * an output when a job is submitted, before anything is signed (and paid for).
   */
  checkWritable(key: string): Promise<void>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in UTF-8 byte order of keys. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ListedObject>;
  close(): Promise<void>;
}

export const DEFAULT_READ_LIMIT = 16 * 1024 * 1024;
/** Copy granularity of `writeSignedOutput`: large enough for few requests, small enough to not matter in RAM. */
const COPY_CHUNK = 1024 * 1024;

/** Behaviour both backends share: key validation, output safety and size limits live here once. */
export abstract class BaseStore implements ObjectStore {
  constructor(readonly name: string) {}

  protected abstract statValid(key: string): Promise<ObjectInfo>;
  protected abstract openValid(key: string): Promise<StoredObjectSource>;
  protected abstract readValid(key: string, maxBytes: number): Promise<Uint8Array>;
  /** Stores `body` under `key` and returns the new object's etag. */
  protected abstract writeValid(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: WriteOptions,
  ): Promise<string>;
  protected abstract deleteValid(key: string): Promise<void>;
  /** Backend-specific reasons a valid key cannot be written; none by default (S3 takes any valid key). */
  protected async checkWritableValid(_key: string): Promise<void> {}
  protected abstract listValid(prefix: string, options: ListOptions): AsyncIterable<ListedObject>;
  abstract close(): Promise<void>;

  async stat(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    return this.statValid(key);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.stat(key);
      return true;
    } catch (error) {
      if (error instanceof EsignError && error.code === "E_NOT_FOUND") return false;
      throw error;
    }
  }

  async openSource(key: string): Promise<StoredObjectSource> {
    assertValidKey(key);
    return this.openValid(key);
  }

  async read(key: string, options: ReadOptions = {}): Promise<Uint8Array> {
    assertValidKey(key);
    return this.readValid(key, options.maxBytes ?? DEFAULT_READ_LIMIT);
  }

  async checkWritable(key: string): Promise<void> {
    assertValidKey(key);
    await this.checkWritableValid(key);
  }

  async write(key: string, body: WritableBody, options: WriteOptions = {}): Promise<WrittenObject> {
    // Only the key's form here: a folder or file that appeared at the output after the job was
    // accepted is a storage failure an operator can clear, and the job's retry then delivers the
    // signature already paid for (checkWritable refused what was visible at submission).
    assertValidKey(key);
    const tally = { hash: createHash("sha256"), size: 0 };
    const etag = await this.writeValid(key, tallying(body, tally), options);
    return { key, size: tally.size, etag, sha256: tally.hash.digest("hex") };
  }

  async writeSignedOutput(
    key: string,
    source: ByteSource,
    revision: Uint8Array,
    check?: WriteCheck,
  ): Promise<WrittenObject> {
    if (isStoredSource(source) && source.store === this.name && source.key === key) {
      throw new EsignError(
        "E_FORBIDDEN",
        `refusing to overwrite the input ${this.name}:${key} with the output`,
      );
    }
    return this.write(key, sourceThenRevision(source, revision, check), { contentType: "application/pdf" });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    return this.deleteValid(key);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListedObject> {
    // A prefix is a key fragment: it may be empty or end in "/", but must not escape the store.
    if (prefix !== "") assertValidKey(prefix.endsWith("/") ? `${prefix}x` : prefix);
    yield* this.listValid(prefix, options);
  }
}

function isStoredSource(source: ByteSource): source is StoredObjectSource {
  return "store" in source && "key" in source;
}

/** Passes `body` through, hashing and counting it on the way, so no backend has to. */
async function* tallying(body: WritableBody, tally: { hash: Hash; size: number }): AsyncIterable<Uint8Array> {
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    // Readable streams in string mode would otherwise slip through as non-bytes.
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    tally.hash.update(bytes);
    tally.size += bytes.length;
    yield bytes;
  }
}

async function* sourceThenRevision(
  source: ByteSource,
  revision: Uint8Array,
  check: WriteCheck | undefined,
): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < source.size; ) {
    const chunk = await source.read(offset, Math.min(COPY_CHUNK, source.size - offset));
    if (chunk.length === 0) {
      throw new EsignError("E_STORAGE", `source ended at byte ${offset} of ${source.size} while copying`);
    }
    check?.update(chunk);
    yield chunk;
    offset += chunk.length;
  }
  check?.update(revision);
  // Before the last bytes go out: a refusal here fails the write, so no object appears.
  check?.final();
  yield revision;
}
