import { EsignError } from "@esign/errors";
import { QUEUE_PREFIX, SIGNING_QUEUES, type SigningQueueName } from "@esign/jobs";
import { type StoresConfig, StoresConfigSchema } from "@esign/storage";
import { z } from "zod";

/**
 * A secret is named, never inlined: `{ "env": "VAR" }` or `{ "file": "/run/secrets/x" }`, so the
 * profile JSON can live in a ConfigMap while the secret stays in a Secret.
 */
export const SecretRefSchema = z.union([
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretRef = z.infer<typeof SecretRefSchema>;

/**
 * Bytes reserved for the CMS in /Contents. Without it the signer estimates, which for the E-sign
 * API means one billed probe signature per worker process and level: set it for remote backends.
 */
const ContentsSizeSchema = z.int().min(1024).max(1_000_000).optional();

/** RFC 3161 time-stamp authorities for B-LTA's document time-stamp, in order of preference. */
const DocumentTimestampUrlsSchema = z
  .array(z.url({ protocol: /^https?$/ }))
  .min(1)
  .optional();

const ProfileNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
const ColorSchema = z.string().regex(/^#[0-9a-fA-F]{6}$/, "a colour is #rrggbb");
const SealLength = z.number().positive().max(14_400);

/**
 * A seal a profile's jobs ask for by name (`"appearance": {"template": "hr-seal"}`): the
 * organisation's stamp image and text template, so jobs only say where it goes.
 */
export const SealTemplateSchema = z.strictObject({
  /** PNG (alpha kept as a soft mask) or JPEG file. */
  image: z.string().min(1).optional(),
  /** `{name}`, `{date}`, `{reason}`, `{location}`, `{subject}`; "\n" breaks lines; "" for an image-only seal. */
  text: z.string().max(1000).optional(),
  /** TrueType/OpenType file; default the bundled Noto Sans SC. */
  font: z.string().min(1).optional(),
  fontSize: z.number().min(4).max(72).optional(),
  /** [width, height] in points when a job places the seal by anchor or by default. */
  size: z.tuple([SealLength, SealLength]).optional(),
  border: z.strictObject({ width: z.number().min(0).max(20), color: ColorSchema }).optional(),
  background: ColorSchema.optional(),
});
export type SealTemplate = z.infer<typeof SealTemplateSchema>;

const SealsSchema = z.record(ProfileNameSchema, SealTemplateSchema).optional();

const P12ProfileSchema = z.strictObject({
  type: z.literal("p12"),
  p12Path: z.string().min(1),
  password: SecretRefSchema,
  contentsSize: ContentsSizeSchema,
  documentTimestampUrls: DocumentTimestampUrlsSchema,
  seals: SealsSchema,
});

/** Remote backends are configured by their own package; the worker only checks the common shape. */
const RemoteProfileFields = {
  url: z.url({ protocol: /^https?$/ }),
  contentsSize: ContentsSizeSchema,
  documentTimestampUrls: DocumentTimestampUrlsSchema,
  seals: SealsSchema,
};

const CscProfileSchema = z.looseObject({
  type: z.literal("csc"),
  ...RemoteProfileFields,
  clientId: z.string().min(1),
  clientSecret: SecretRefSchema,
  credentialId: z.string().min(1),
  /** PIN of an explicitly authorised credential. */
  pin: SecretRefSchema.optional(),
});

const EsignApiProfileSchema = z.looseObject({
  type: z.literal("esign-api"),
  ...RemoteProfileFields,
  apiKey: SecretRefSchema,
  credentialId: z.string().min(1),
  /** The credential's certificate (PEM or DER file): without it the signer learns it from a billed probe. */
  certificatePath: z.string().min(1).optional(),
});

export const SignerProfileSchema = z.discriminatedUnion("type", [
  P12ProfileSchema,
  CscProfileSchema,
  EsignApiProfileSchema,
]);
export type SignerProfile = z.infer<typeof SignerProfileSchema>;
export type P12Profile = z.infer<typeof P12ProfileSchema>;
export type CscProfile = z.infer<typeof CscProfileSchema>;
export type EsignApiProfile = z.infer<typeof EsignApiProfileSchema>;

export const SignerProfilesSchema = z.record(ProfileNameSchema, SignerProfileSchema);

export interface WorkerConfig {
  redisUrl: string;
  prefix: string;
  queues: SigningQueueName[];
  stores: StoresConfig;
  signers: Record<string, SignerProfile>;
  concurrency: number;
  /** Remote sign calls per second across every worker; undefined means unlimited. */
  signingRateLimit: number | undefined;
  /** Port of /metrics and /healthz; undefined serves none (embedded use), 0 picks a free port. */
  metricsPort: number | undefined;
  metricsHost: string;
  /** BullMQ lock: a worker that stops renewing it for this long is presumed dead. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How often a job may be recovered from a dead worker before it fails (E_INTERNAL). */
  maxStalledCount: number;
  logLevel: string;
}

const json = (name: string) =>
  z.string().transform((text, context) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: "custom", message: `${name} must be JSON` });
      return z.NEVER;
    }
  });

const positiveInt = z.coerce.number().int().min(1);

const EnvSchema = z.object({
  REDIS_URL: z.string().min(1).default("redis://127.0.0.1:6379"),
  ESIGN_QUEUE_PREFIX: z.string().min(1).default(QUEUE_PREFIX),
  WORKER_QUEUES: z
    .string()
    .default(SIGNING_QUEUES.join(","))
    .transform((list) => list.split(",").map((name) => name.trim()))
    .pipe(z.array(z.enum(SIGNING_QUEUES)).min(1)),
  ESIGN_STORES: json("ESIGN_STORES").pipe(StoresConfigSchema),
  ESIGN_SIGNERS: json("ESIGN_SIGNERS").pipe(SignerProfilesSchema),
  WORKER_CONCURRENCY: positiveInt.default(8),
  SIGNING_RATE_LIMIT: positiveInt.optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default("0.0.0.0"),
  WORKER_LOCK_DURATION_MS: positiveInt.default(30_000),
  WORKER_STALLED_INTERVAL_MS: positiveInt.default(30_000),
  WORKER_MAX_STALLED_COUNT: positiveInt.default(3),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** Reads the worker's configuration from the environment; E_CONFIG names every bad variable. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  // Empty variables count as unset, as compose files and shells often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new EsignError("E_CONFIG", `invalid worker environment: ${problems.join("; ")}`);
  }
  const values = parsed.data;
  return {
    redisUrl: values.REDIS_URL,
    prefix: values.ESIGN_QUEUE_PREFIX,
    queues: values.WORKER_QUEUES,
    stores: values.ESIGN_STORES,
    signers: values.ESIGN_SIGNERS,
    concurrency: values.WORKER_CONCURRENCY,
    signingRateLimit: values.SIGNING_RATE_LIMIT,
    metricsPort: values.METRICS_PORT,
    metricsHost: values.METRICS_HOST,
    lockDurationMs: values.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: values.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: values.WORKER_MAX_STALLED_COUNT,
    logLevel: values.LOG_LEVEL,
  };
}
