import { join } from "node:path";
import { z } from "zod";
import { keyProblem } from "./keys";
import { StoreNameSchema } from "./ref";

/** S3 refuses multipart parts below 5 MiB (except the last one). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export const S3StoreConfigSchema = z.strictObject({
  type: z.literal("s3"),
  /** Omit for AWS; set for MinIO, Ceph, Garage, R2... */
  endpoint: z.url().optional(),
  region: z.string().min(1),
  bucket: z.string().min(1),
  /** Every key of this store lives under this prefix in the bucket ("tenant-a/" or "tenant-a"). */
  prefix: z
    .string()
    .refine((prefix) => prefix === "" || !keyProblem(prefix.replace(/\/$/, "")), "prefix must be a valid key")
    .optional(),
  /** Path-style URLs (endpoint/bucket/key); most self-hosted S3 servers need it. */
  forcePathStyle: z.boolean().optional(),
  /** Omit to use the SDK's default chain (environment, instance role, ...). */
  credentials: z
    .strictObject({
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      sessionToken: z.string().optional(),
    })
    .optional(),
  /** Multipart part size in bytes for uploads; also the threshold for going multipart. */
  partSize: z.int().min(MIN_PART_SIZE).optional(),
  /**
   * "when_required" (the default with a custom endpoint) skips the CRC checksums newer SDKs send
   * by default, which many S3-compatible servers reject; AWS itself uses "when_supported".
   */
  checksums: z.enum(["when_supported", "when_required"]).optional(),
});

export const LocalStoreConfigSchema = z.strictObject({
  type: z.literal("local"),
  root: z.string().min(1),
});

export const StoreConfigSchema = z.discriminatedUnion("type", [S3StoreConfigSchema, LocalStoreConfigSchema]);

/** Stores by name; jobs refer to them as `{ store: NAME, key }`. */
export const StoresConfigSchema = z.record(StoreNameSchema, StoreConfigSchema);

export type S3StoreConfig = z.infer<typeof S3StoreConfigSchema>;
export type LocalStoreConfig = z.infer<typeof LocalStoreConfigSchema>;
export type StoreConfig = z.infer<typeof StoreConfigSchema>;
export type StoresConfig = z.infer<typeof StoresConfigSchema>;

export const DEFAULT_STORE = "default";

/** The all-in-one default: one local store named "default" at `$ESIGN_DATA_DIR/objects`. */
export function defaultStoresConfig(dataDir = process.env.ESIGN_DATA_DIR ?? ".data"): StoresConfig {
  return { [DEFAULT_STORE]: { type: "local", root: join(dataDir, "objects") } };
}
