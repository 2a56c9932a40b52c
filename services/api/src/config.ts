import { createHash } from "node:crypto";
import { CONTRACT_BINDINGS, CONTRACT_FIELDS } from "@esign/contracts";
import { QueuePrefixSchema } from "@esign/jobs";
import {
  BindHostSchema,
  configLoader,
  flag,
  integer,
  json,
  LogLevelSchema,
  list,
  PortSchema,
  parseConfig,
  RedisUrlSchema,
  text,
} from "@esign/runtime";
import { DEFAULT_STORE, StoresConfigSchema } from "@esign/storage";
import { z } from "zod";

/**
 * A tenant's name: no `.`, so the scoped idempotency key `<tenant>.<key>` splits one way only
 * (with dots, `acme` + `eu.x` and `acme.eu` + `x` would name the same job).
 */
export const TenantNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "tenant names are 1-64 letters, digits, '_' or '-' (no '.')");

export const TenantSchema = z.strictObject({
  /** Stores and key prefixes this tenant may reference in jobs ("" = the whole store). */
  stores: z.record(z.string(), z.array(z.string())),
  /** Signer profile used when a request names none. */
  signer: z.string().default("default"),
  /** Profiles this tenant may name in requests; default: only `signer`. */
  signers: z.array(z.string()).optional(),
  /** Webhook secrets (the notifier's names for them) this tenant's callbacks may name as `secretId`; default none. */
  webhookSecretIds: z.array(z.string()).default([]),
  /**
   * Where `POST /v1/sign` and `POST /v1/jobs/upload` put the documents (and inline batches their
   * result manifests). Default prefix: `uploads/<tenant>/`, or `uploads/` inside the tenant's first
   * area of `uploadStore` when it may not write there (tenancy.ts, uploadArea).
   */
  uploadStore: z.string().default(DEFAULT_STORE),
  uploadPrefix: z.string().optional(),
  /**
   * Trust sources for this tenant's `POST /v1/verify` (PEM bundles, DER, folders, ETSI TS 119 612
   * lists), in place of the global `trustRoots`: tenants rely on different PKIs, and one tenant's
   * anchors must not make another tenant's signatures look trusted.
   */
  trust: z.array(z.string().min(1)).min(1, "name at least one trust source, or leave trust out").optional(),
});
export type Tenant = z.infer<typeof TenantSchema>;

export const ApiKeySchema = z.strictObject({
  /** Hex SHA-256 of the key: keys are stored hashed, like passwords, and compared in constant time. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  tenant: TenantNameSchema,
  admin: z.boolean().default(false),
  /** A label for logs; the key itself is never logged. */
  name: z.string().optional(),
});
export type ApiKeyEntry = z.infer<typeof ApiKeySchema>;

const MiB = 1024 * 1024;

export const DEV_TENANT = "dev";

export const ApiConfigSchema = z
  .object({
    port: PortSchema.default(8080),
    host: BindHostSchema,
    redisUrl: RedisUrlSchema,
    /**
     * How long a Redis command may go unanswered before the request fails 503 E_UNAVAILABLE: a
     * stopped or unreachable Redis costs a client this long, not the whole outage.
     */
    redisCommandTimeoutMs: z.int().min(50).max(60_000).default(1000),
    /** BullMQ prefix shared with the worker and notifier; keep it a `{hash tag}` on Redis Cluster. */
    queuePrefix: QueuePrefixSchema,
    /** When `stores` names none, the store `default` is the local folder `<dataDir>/objects`. */
    dataDir: z.string().min(1).default(".data"),
    stores: StoresConfigSchema.optional(),
    tenants: z.record(TenantNameSchema, TenantSchema).default({}),
    apiKeys: z.array(ApiKeySchema).default([]),
    /** A development key accepted for the tenant "dev", which may use the whole default store. */
    devApiKey: z.string().min(16, "must be at least 16 characters").optional(),
    /** URLs /readyz must reach (the signing service's base or health URL). */
    readyUrls: z.array(z.url()).default([]),
    /** Trust sources for `POST /v1/verify` of tenants that name none of their own (`trust`). */
    trustRoots: z.array(z.string().min(1)).default([]),
    maxUploadBytes: z
      .int()
      .min(1024)
      .default(100 * MiB),
    /** How long `POST /v1/sign` waits for the signed PDF before answering 202 with the job URL. */
    syncTimeoutMs: z.int().min(100).default(30_000),
    /**
     * Longest silence on a connection and longest time to receive a whole request: a client that
     * stalls mid-headers or mid-body is cut off instead of holding a socket (and an upload) forever.
     */
    requestTimeoutMs: z.int().min(100).default(60_000),
    rateLimitPerMinute: z.int().min(1).default(600),
    /**
     * POSTs of the signer link (challenge, sign, decline) per address and minute: a person needs a
     * few, a script mailing codes to someone's inbox many. Raise it when many people sign at once
     * from behind one address.
     */
    signerLinkRateLimitPerMinute: z.int().min(1).default(30),
    /** Bull Board may retry/remove jobs only when this is true; read-only otherwise. */
    bullBoardWritable: z.boolean().default(false),
    ...CONTRACT_FIELDS,
    logLevel: LogLevelSchema.default("info"),
  })
  .refine((config) => config.syncTimeoutMs < config.requestTimeoutMs, {
    // While POST /v1/sign waits, the connection is silent: the idle timeout must outlast the wait.
    path: ["syncTimeoutMs"],
    message: "must be less than REQUEST_TIMEOUT_MS",
  })
  .transform(({ dataDir, devApiKey, ...config }, context) => {
    const stores = config.stores ?? {
      [DEFAULT_STORE]: { type: "local" as const, root: `${dataDir}/objects` },
    };
    const tenants = { ...config.tenants };
    const apiKeys = [...config.apiKeys];
    if (devApiKey !== undefined) {
      tenants[DEV_TENANT] ??= TenantSchema.parse({ stores: { [DEFAULT_STORE]: [""] } });
      apiKeys.push({ sha256: hashApiKey(devApiKey), tenant: DEV_TENANT, admin: true, name: "dev" });
    }
    apiKeys.forEach((key, index) => {
      if (tenants[key.tenant]) return;
      context.addIssue({
        code: "custom",
        path: ["apiKeys", index, "tenant"],
        message: `API key ${key.name ?? key.sha256.slice(0, 8)} names unknown tenant ${key.tenant}`,
      });
    });
    return { ...config, stores, tenants, apiKeys };
  });
export type ApiConfig = z.output<typeof ApiConfigSchema>;
export type ApiConfigInput = z.input<typeof ApiConfigSchema>;

/** Reads and checks every setting at start; a bad one is named with what is wrong with it. */
export const loadApiConfig = configLoader(
  ApiConfigSchema,
  {
    port: integer("PORT"),
    host: text("HOST"),
    redisUrl: text("REDIS_URL"),
    redisCommandTimeoutMs: integer("REDIS_COMMAND_TIMEOUT_MS"),
    queuePrefix: text("ESIGN_QUEUE_PREFIX"),
    dataDir: text("ESIGN_DATA_DIR"),
    stores: json("ESIGN_STORES"),
    // `@/path` (or {"file": "/path"}) keeps them in mounted files.
    tenants: json("ESIGN_TENANTS"),
    apiKeys: json("ESIGN_API_KEYS"),
    devApiKey: text("ESIGN_DEV_API_KEY"),
    readyUrls: list("ESIGN_READY_URLS"),
    trustRoots: list("ESIGN_TRUST_ROOTS"),
    maxUploadBytes: integer("MAX_UPLOAD_BYTES"),
    syncTimeoutMs: integer("SYNC_TIMEOUT_MS"),
    requestTimeoutMs: integer("REQUEST_TIMEOUT_MS"),
    rateLimitPerMinute: integer("RATE_LIMIT_PER_MINUTE"),
    signerLinkRateLimitPerMinute: integer("SIGNER_LINK_RATE_LIMIT_PER_MINUTE"),
    bullBoardWritable: flag("BULL_BOARD_WRITABLE"),
    ...CONTRACT_BINDINGS,
    logLevel: text("LOG_LEVEL"),
  },
  "API environment",
);

/** An API configuration built in code (an embedding process), defaults filled in. */
export function parseApiConfig(input: ApiConfigInput): ApiConfig {
  return parseConfig(ApiConfigSchema, input, "API configuration");
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}
