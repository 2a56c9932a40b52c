import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { EsignError } from "@esign/errors";
import { BlockCachedSource, type BlockCacheOptions, DEFAULT_BLOCK_SIZE } from "./block-cache";
import type { S3StoreConfig } from "./config";
import { storageError } from "./errors";
import { keyProblem } from "./keys";
import {
  BaseStore,
  type ListedObject,
  type ListOptions,
  type ObjectInfo,
  type StoredObjectSource,
  type WriteOptions,
} from "./store";

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/**
 * Without these the SDK waits forever on a silent server and the job holds its worker slot until
 * BullMQ declares it stalled. The request timeout is socket inactivity, not total duration, so
 * large transfers are not cut short.
 */
const CONNECT_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 60_000;
/** Parts uploaded in parallel: memory use is about partSize × this. */
const UPLOAD_CONCURRENCY = 4;

export interface S3StoreOptions {
  /** Tuning of the read cache behind `openSource`. */
  blockCache?: BlockCacheOptions;
}

/**
 * An S3 bucket (or a prefix inside one) as an object store. Reads are ranged GETs pinned to the
 * etag seen at open time; writes are streamed (multipart above one part size), and S3 only makes
 * an object visible once its upload completes, so outputs appear atomically here too.
 */
export class S3Store extends BaseStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(
    name: string,
    config: S3StoreConfig,
    private readonly options: S3StoreOptions = {},
  ) {
    super(name);
    const checksums = config.checksums ?? (config.endpoint ? "when_required" : "when_supported");
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials: config.credentials,
      requestChecksumCalculation: checksums === "when_required" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED",
      responseChecksumValidation: checksums === "when_required" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED",
      requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: IDLE_TIMEOUT_MS },
    });
    this.bucket = config.bucket;
    const prefix = config.prefix?.replace(/^\/+/, "") ?? "";
    this.prefix = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
    this.partSize = config.partSize ?? DEFAULT_PART_SIZE;
  }

  protected async statValid(key: string): Promise<ObjectInfo> {
    const head = await this.call(key, "stat", () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key })),
    );
    return { size: head.ContentLength ?? 0, etag: head.ETag ?? "" };
  }

  protected async openValid(key: string): Promise<StoredObjectSource> {
    const { size, etag, firstBytes } = await this.openFirstBlock(key);
    const fetchRange = async (start: number, end: number): Promise<Uint8Array> => {
      const response = await this.call(key, `read bytes ${start}-${end - 1} of`, () =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Range: `bytes=${start}-${end - 1}`,
            // S3 answers 412 if the object was replaced since open; the ETag check below also
            // catches servers that ignore If-Match.
            IfMatch: etag,
          }),
        ),
      );
      if (response.ETag !== etag) {
        await response.Body?.transformToByteArray().catch(() => undefined);
        throw changedWhileReading(this.name, key);
      }
      return this.call(key, "read", () => response.Body!.transformToByteArray());
    };
    const source = new BlockCachedSource(this.name, key, size, etag, fetchRange, this.options.blockCache);
    if (firstBytes) source.seedFirstBlock(firstBytes);
    return source;
  }

  /**
   * Size and etag of the object, and its first block, in one ranged GET instead of a HEAD and then
   * a GET: a small document is then read with a single request. An empty object (no range to
   * answer) is stat'ed instead.
   */
  private async openFirstBlock(key: string): Promise<ObjectInfo & { firstBytes?: Uint8Array }> {
    const blockSize = this.options.blockCache?.blockSize ?? DEFAULT_BLOCK_SIZE;
    const response = await this.call(key, "open", async () => {
      try {
        return await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Range: `bytes=0-${blockSize - 1}`,
          }),
        );
      } catch (error) {
        if ((error as { name?: string }).name === "InvalidRange") return undefined;
        throw error;
      }
    });
    if (!response) return this.statValid(key);
    // "bytes 0-1023/31307"; a server that ignores Range sends the whole object without it.
    const total = /\/(\d+)$/.exec(response.ContentRange ?? "")?.[1];
    if (total === "0") {
      // Some servers answer a range of an empty object with a bogus one-byte length and no body.
      (response.Body as Readable | undefined)?.destroy?.();
      return { size: 0, etag: response.ETag ?? "" };
    }
    const firstBytes = await this.call(key, "read", () => response.Body!.transformToByteArray());
    const size = total === undefined ? firstBytes.length : Number(total);
    return { size, etag: response.ETag ?? "", firstBytes: firstBytes.subarray(0, blockSize) };
  }

  protected async readValid(key: string, maxBytes: number): Promise<Uint8Array> {
    const response = await this.call(key, "read", () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key })),
    );
    if ((response.ContentLength ?? 0) > maxBytes) {
      (response.Body as Readable | undefined)?.destroy?.();
      throw new EsignError(
        "E_TOO_LARGE",
        `${this.name}:${key} is ${response.ContentLength} bytes, more than ${maxBytes}`,
      );
    }
    return this.call(key, "read", () => response.Body!.transformToByteArray());
  }

  protected async writeValid(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: WriteOptions,
  ): Promise<string> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: Readable.from(body, { objectMode: false }),
        ContentType: options.contentType ?? "application/octet-stream",
      },
      partSize: this.partSize,
      queueSize: UPLOAD_CONCURRENCY,
      // A failed multipart upload is aborted so no orphaned parts keep costing storage.
      leavePartsOnError: false,
    });
    const result = await this.call(key, "write", () => upload.done());
    return result.ETag ?? "";
  }

  protected async deleteValid(key: string): Promise<void> {
    await this.call(key, "delete", () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key })),
    );
  }

  protected async *listValid(prefix: string, options: ListOptions): AsyncIterable<ListedObject> {
    // ListObjects (v1) paged by Marker = last key seen: the same walk in key order as v2, but
    // every S3-compatible server implements it without opaque continuation tokens (s3rver's need
    // DES, which OpenSSL 3 no longer ships), and the marker doubles as the `startAfter` resume point.
    let marker = options.startAfter === undefined ? undefined : this.prefix + options.startAfter;
    for (;;) {
      const page = await this.call(prefix, "list", () =>
        this.client.send(
          new ListObjectsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            Marker: marker,
            MaxKeys: options.pageSize ?? 1000,
          }),
        ),
      );
      const entries = page.Contents ?? [];
      for (const entry of entries) {
        const key = entry.Key!.slice(this.prefix.length);
        // Folder markers ("dir/") and keys we would refuse to open anyway are not objects for us.
        if (keyProblem(key)) continue;
        yield {
          key,
          size: entry.Size ?? 0,
          etag: entry.ETag ?? "",
          lastModified: entry.LastModified ?? new Date(0),
        };
      }
      if (!page.IsTruncated || entries.length === 0) return;
      marker = entries[entries.length - 1]!.Key;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Runs one S3 call, mapping missing objects to E_NOT_FOUND and every other failure to E_STORAGE. */
  private async call<T>(key: string, what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof EsignError) throw error;
      const name = (error as { name?: string }).name;
      if (name === "NoSuchKey" || name === "NotFound") {
        throw new EsignError("E_NOT_FOUND", `${this.name}:${key} does not exist`, { cause: error });
      }
      if (name === "PreconditionFailed") throw changedWhileReading(this.name, key, error);
      throw storageError(`${what} ${this.name}:${key}`, error);
    }
  }
}

function changedWhileReading(store: string, key: string, cause?: unknown): EsignError {
  return new EsignError("E_STORAGE", `${store}:${key} changed while it was being read`, { cause });
}
