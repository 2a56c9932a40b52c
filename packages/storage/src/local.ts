import { randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { EsignError } from "@esign/errors";
import { BufferSource, FileSource } from "@esign/pdf";
import { DEFAULT_BLOCK_SIZE } from "./block-cache";
import type { LocalStoreConfig } from "./config";
import { storageError } from "./errors";
import { RESERVED_KEY_SUFFIX } from "./keys";
import {
  BaseStore,
  type ListedObject,
  type ListOptions,
  type ObjectInfo,
  type StoredObjectSource,
  type WriteOptions,
} from "./store";

/**
 * Documents are readable by the service's own user only, and so are the folders the store creates
 * (folders that exist already keep their mode). The process umask can only narrow these.
 */
const DOCUMENT_MODE = 0o600;
const FOLDER_MODE = 0o700;

/**
 * A directory as an object store. Writes go to a temporary file in the target's directory, are
 * fsynced and then renamed over the target, so a reader (or a crash) never sees half a document.
 * Open sources keep their file descriptor, so a concurrent replacement does not change what they read
 * (a document of at most one S3 block is read whole when it is opened, to the same effect).
 */
export class LocalStore extends BaseStore {
  private readonly root: string;

  constructor(name: string, config: LocalStoreConfig) {
    super(name);
    this.root = resolve(config.root);
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    // Keys are validated before they get here; this is the belt to those braces.
    if (!path.startsWith(this.root + sep)) {
      throw new EsignError("E_FORBIDDEN", `object key resolves outside the store: ${JSON.stringify(key)}`);
    }
    return path;
  }

  protected async statValid(key: string): Promise<ObjectInfo> {
    const stats = await this.fsCall(key, () => stat(this.pathOf(key), { bigint: true }));
    if (!stats.isFile()) throw this.notFound(key);
    return { size: Number(stats.size), etag: etagOf(stats) };
  }

  protected async openValid(key: string): Promise<StoredObjectSource> {
    const path = this.pathOf(key);
    const handle = await this.fsCall(key, () => open(path, "r"));
    let small: Uint8Array | undefined;
    let etag: string;
    try {
      // The descriptor's own stat: the etag describes the very file it reads, whatever replaces
      // the path meanwhile.
      const stats = await this.fsCall(key, () => handle.stat({ bigint: true }));
      if (!stats.isFile()) throw this.notFound(key);
      etag = etagOf(stats);
      // A job reads its document in ~18 small pieces (strace), each a promise and a pread: a
      // small one is read once, here, from the descriptor whose stat made the etag.
      if (stats.size <= BigInt(DEFAULT_BLOCK_SIZE)) {
        const bytes = Buffer.allocUnsafe(Number(stats.size));
        if ((await this.fsCall(key, () => readAll(handle, bytes))) !== bytes.length) {
          throw new EsignError("E_STORAGE", `${this.name}:${key} changed while being opened`);
        }
        small = bytes;
      }
    } finally {
      await handle.close();
    }
    const object = { store: this.name, key, etag };
    if (small) return Object.assign(new BufferSource(small), object);
    return Object.assign(await this.openLarge(key, etag), object);
  }

  /**
   * A document larger than one block keeps a descriptor (FileSource) and is read piece by piece.
   * Stat on both sides of its open: if the object was replaced since `etag` was taken, they differ.
   */
  private async openLarge(key: string, etag: string): Promise<FileSource> {
    const file = await this.fsCall(key, () => FileSource.open(this.pathOf(key)));
    const after = await this.statValid(key).catch(async (error) => {
      await file.close();
      throw error;
    });
    if (after.etag !== etag) {
      await file.close();
      throw new EsignError("E_STORAGE", `${this.name}:${key} was replaced while being opened`);
    }
    return file;
  }

  protected async readValid(key: string, maxBytes: number): Promise<Uint8Array> {
    const handle = await this.fsCall(key, () => open(this.pathOf(key), "r"));
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) {
        throw new EsignError("E_TOO_LARGE", `${this.name}:${key} is ${size} bytes, more than ${maxBytes}`);
      }
      return await this.fsCall(key, () => handle.readFile());
    } finally {
      await handle.close();
    }
  }

  protected async writeValid(
    key: string,
    body: AsyncIterable<Uint8Array>,
    _options: WriteOptions,
  ): Promise<string> {
    const target = this.pathOf(key);
    const directory = dirname(target);
    const partial = join(directory, `.${randomBytes(8).toString("hex")}${RESERVED_KEY_SUFFIX}`);
    // Not fsCall: ENOTDIR here means a file sits where a directory is needed, not a missing object.
    // The folder usually exists already: it is created only when the open says it is missing.
    const handle = await open(partial, "wx", DOCUMENT_MODE)
      .catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
        await mkdir(directory, { recursive: true, mode: FOLDER_MODE });
        return open(partial, "wx", DOCUMENT_MODE);
      })
      .catch((error) => {
        throw storageError(`creating ${this.name}:${key}`, error);
      });
    try {
      for await (const chunk of body) await writeAll(handle, chunk);
      await handle.sync();
      await handle.close();
      await rename(partial, target);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw error instanceof EsignError ? error : storageError(`writing ${this.name}:${key}`, error);
    }
    await syncDirectory(directory);
    return (await this.statValid(key)).etag;
  }

  /** A file cannot sit where the key needs a folder, nor a folder where it needs a file. */
  protected override async checkWritableValid(key: string): Promise<void> {
    const segments = key.split("/");
    for (let depth = 1; depth <= segments.length; depth++) {
      const partKey = segments.slice(0, depth).join("/");
      const stats = await stat(this.pathOf(partKey)).catch(() => undefined);
      if (!stats) return;
      if (depth === segments.length && stats.isDirectory()) {
        throw new EsignError("E_INVALID_JOB", `${this.name}:${key} is a folder, not an object`);
      }
      if (depth < segments.length && !stats.isDirectory()) {
        throw new EsignError(
          "E_INVALID_JOB",
          `${this.name}:${partKey} is an object, so ${key} cannot be written`,
        );
      }
    }
  }

  protected async deleteValid(key: string): Promise<void> {
    await this.fsCall(key, () => rm(this.pathOf(key), { force: true }));
  }

  protected async *listValid(prefix: string, options: ListOptions): AsyncIterable<ListedObject> {
    // Start at the deepest directory the prefix names, then filter the rest textually.
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash + 1);
    for await (const key of this.walk(base)) {
      if (!key.startsWith(prefix)) continue;
      if (options.startAfter !== undefined && compareKeys(key, options.startAfter) <= 0) continue;
      const stats = await stat(join(this.root, key), { bigint: true }).catch(() => undefined);
      // A file deleted between readdir and stat is simply no longer there.
      if (stats?.isFile()) {
        yield { key, size: Number(stats.size), etag: etagOf(stats), lastModified: stats.mtime };
      }
    }
  }

  /**
   * Keys under `base` in UTF-8 byte order (S3's order): a directory's entries are sorted with "/"
   * appended to subdirectory names, because every key inside "a/" sorts where "a/" sorts.
   */
  private async *walk(base: string): AsyncIterable<string> {
    const directory = base === "" ? this.root : join(this.root, base);
    const entries = await readdir(directory, { withFileTypes: true }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT" || error.code === "ENOTDIR") return [];
        throw storageError(`listing ${this.name}:${base}`, error);
      },
    );
    const names = entries
      .filter((entry) => entry.isDirectory() || (entry.isFile() && !entry.name.endsWith(RESERVED_KEY_SUFFIX)))
      .map((entry) => base + entry.name + (entry.isDirectory() ? "/" : ""))
      .sort(compareKeys);
    for (const name of names) {
      if (name.endsWith("/")) yield* this.walk(name);
      else yield name;
    }
  }

  async close(): Promise<void> {}

  private notFound(key: string, cause?: unknown): EsignError {
    return new EsignError("E_NOT_FOUND", `${this.name}:${key} does not exist`, { cause });
  }

  /** Maps filesystem errors: missing paths are E_NOT_FOUND, everything else E_STORAGE. */
  private async fsCall<T>(key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof EsignError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw this.notFound(key, error);
      throw storageError(`accessing ${this.name}:${key}`, error);
    }
  }
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Size, inode and nanosecond mtime: an atomic replacement always changes the inode. */
function etagOf(stats: BigIntStats): string {
  return `"${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}"`;
}

/** A single write may store fewer bytes than asked (signals, quotas); keep going until all are down. */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Fills `target` from the start of the file; fewer bytes only when the file ends first. */
async function readAll(handle: FileHandle, target: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const { bytesRead } = await handle.read(target, filled, target.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

async function syncDirectory(directory: string): Promise<void> {
  // Makes the rename itself durable; some filesystems refuse fsync on directories, which is fine.
  const handle = await open(directory, "r").catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}
