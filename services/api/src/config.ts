import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { EsignError } from "@esign/errors";
import { QUEUE_PREFIX } from "@esign/jobs";
import { DEFAULT_STORE, type StoresConfig, StoresConfigSchema } from "@esign/storage";
import { z } from "zod";

/** JSON given inline in an env variable, or `@/path/to/file.json`, so secrets can live in mounted files. */
function jsonSetting<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text.startsWith("@") ? readFileSync(text.slice(1), "utf8") : text) as unknown;
      } catch (error) {
        ctx.addIssue({ code: "custom", message: `not JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

export const TenantSchema = z.strictObject({
  /** Stores and key prefixes this tenant may reference in jobs ("" = the whole store). */
  stores: z.record(z.string(), z.array(z.string())),
  /** Signer profile used when a request names none. */
  signer: z.string().default("default"),
  /** Profiles this tenant may name in requests; default: only `signer`. */
  signers: z.array(z.string()).optional(),
  /** Where `POST /v1/sign` and uploads to `POST /v1/jobs` put the documents. */
  uploadStore: z.string().default(DEFAULT_STORE),
  uploadPrefix: z.string().optional(),
});
export type Tenant = z.infer<typeof TenantSchema>;

export const ApiKeySchema = z.strictObject({
  /** Hex SHA-256 of the key: keys are stored hashed, like passwords, and compared in constant time. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  tenant: z.string(),
  admin: z.boolean().default(false),
  /** A label for logs; the key itself is never logged. */
  name: z.string().optional(),
});
export type ApiKeyEntry = z.infer<typeof ApiKeySchema>;

const MiB = 1024 * 1024;

export const ApiConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  HOST: z.string().default("127.0.0.1"),
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
  /** BullMQ prefix shared with the worker and notifier; keep it a `{hash tag}` on Redis Cluster. */
  ESIGN_QUEUE_PREFIX: z.string().min(1).default(QUEUE_PREFIX),
  ESIGN_DATA_DIR: z.string().default(".data"),
  ESIGN_STORES: jsonSetting(StoresConfigSchema).optional(),
  ESIGN_TENANTS: jsonSetting(z.record(z.string(), TenantSchema)).optional(),
  ESIGN_API_KEYS: jsonSetting(z.array(ApiKeySchema)).optional(),
  /** A development key accepted for the tenant "dev", which may use the whole default store. */
  ESIGN_DEV_API_KEY: z.string().min(16, "ESIGN_DEV_API_KEY must be at least 16 characters").optional(),
  /** URLs /readyz must reach (the signing service's base or health URL), separated by commas. */
  ESIGN_READY_URLS: z.string().optional(),
  /** Trust anchors for `POST /v1/verify`, PEM files separated by commas. */
  ESIGN_TRUST_ROOTS: z.string().optional(),
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(100 * MiB),
  /** How long `POST /v1/sign` waits for the signed PDF before answering 202 with the job URL. */
  SYNC_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /** Bull Board may retry/remove jobs only when this is true; read-only otherwise. */
  BULL_BOARD_WRITABLE: z.stringbool().default(false),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface ApiConfig {
  port: number;
  host: string;
  redisUrl: string;
  queuePrefix: string;
  stores: StoresConfig;
  tenants: Record<string, Tenant>;
  apiKeys: ApiKeyEntry[];
  trustRoots: string[];
  readyUrls: string[];
  maxUploadBytes: number;
  syncTimeoutMs: number;
  rateLimitPerMinute: number;
  bullBoardWritable: boolean;
  logLevel: string;
}

export const DEV_TENANT = "dev";

/** Reads and checks every setting at start; a bad one is named with what is wrong with it. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const parsed = ApiConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new EsignError("E_CONFIG", `invalid configuration:\n${problems.join("\n")}`);
  }
  const e = parsed.data;
  const stores = e.ESIGN_STORES ?? {
    [DEFAULT_STORE]: { type: "local" as const, root: `${e.ESIGN_DATA_DIR}/objects` },
  };
  const tenants = { ...e.ESIGN_TENANTS };
  const apiKeys = [...(e.ESIGN_API_KEYS ?? [])];
  if (e.ESIGN_DEV_API_KEY) {
    tenants[DEV_TENANT] ??= TenantSchema.parse({ stores: { [DEFAULT_STORE]: [""] } });
    apiKeys.push({ sha256: hashApiKey(e.ESIGN_DEV_API_KEY), tenant: DEV_TENANT, admin: true, name: "dev" });
  }
  for (const key of apiKeys) {
    if (!tenants[key.tenant]) {
      throw new EsignError(
        "E_CONFIG",
        `API key ${key.name ?? key.sha256.slice(0, 8)} names unknown tenant ${key.tenant}`,
      );
    }
  }
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.ESIGN_QUEUE_PREFIX,
    stores,
    tenants,
    apiKeys,
    trustRoots: e.ESIGN_TRUST_ROOTS ? e.ESIGN_TRUST_ROOTS.split(",").filter(Boolean) : [],
    readyUrls: e.ESIGN_READY_URLS ? e.ESIGN_READY_URLS.split(",").filter(Boolean) : [],
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    syncTimeoutMs: e.SYNC_TIMEOUT_MS,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    bullBoardWritable: e.BULL_BOARD_WRITABLE,
    logLevel: e.LOG_LEVEL,
  };
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}
