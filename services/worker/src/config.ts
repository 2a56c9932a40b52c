import { CONTRACT_BINDINGS, CONTRACT_FIELDS } from "@esign/contracts";
import { QueuePrefixSchema, SealStyleSchema, SIGNING_QUEUES } from "@esign/jobs";
import {
  configLoader,
  type EnvBindings,
  integer,
  json,
  LogLevelSchema,
  list,
  METRICS_BINDINGS,
  METRICS_FIELDS,
  parseConfig,
  RedisUrlSchema,
  SecretRefSchema,
  text,
} from "@esign/runtime";
import { StoresConfigSchema } from "@esign/storage";
import { z } from "zod";

/**
 * Bytes reserved for the CMS in /Contents. Without it the signer estimates, which for the E-sign
 * API means one billed probe signature per worker process and level: set it for remote backends.
 */
const ContentsSizeSchema = z.int().min(1024).max(1_000_000).optional();

/**
 * Passwords of encrypted input PDFs, by the name a job gives as `pdfPassword: {"secret": NAME}`:
 * the job carries the name, the worker's configuration the secret.
 */
export const PdfPasswordsSchema = z
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/), SecretRefSchema)
  .optional();

/** RFC 3161 time-stamp authorities for B-LTA's document time-stamp, in order of preference. */
const DocumentTimestampUrlsSchema = z
  .array(z.url({ protocol: /^https?$/ }))
  .min(1)
  .optional();

/**
 * Refuse B-LT and B-LTA jobs (E_CERT, before signing) when the signer's chain names no OCSP
 * responder or CRL for some certificate, so the output could not be "LTV enabled". Default: sign
 * and report it as a warning.
 */
const RequireLtvSchema = z.boolean().optional();

const ProfileNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
/**
 * A seal a profile's jobs ask for by name (`"appearance": {"template": "hr-seal"}`): the
 * organisation's stamp image and text template, so jobs only say where it goes.
 */
export const SealTemplateSchema = SealStyleSchema.extend({
  /** PNG (alpha kept as a soft mask) or JPEG file. */
  image: z.string().min(1).optional(),
  /** TrueType/OpenType file; default the bundled Noto Sans SC. */
  font: z.string().min(1).optional(),
});
export type SealTemplate = z.infer<typeof SealTemplateSchema>;

const SealsSchema = z.record(ProfileNameSchema, SealTemplateSchema).optional();

const P12ProfileSchema = z.strictObject({
  type: z.literal("p12"),
  p12Path: z.string().min(1),
  password: SecretRefSchema,
  contentsSize: ContentsSizeSchema,
  documentTimestampUrls: DocumentTimestampUrlsSchema,
  requireLtv: RequireLtvSchema,
  seals: SealsSchema,
  pdfPasswords: PdfPasswordsSchema,
});

/** Remote backends are configured by their own package; the worker only checks the common shape. */
const RemoteProfileFields = {
  url: z.url({ protocol: /^https?$/ }),
  /**
   * Whether the service honours an `Idempotency-Key` on its sign calls (the simulator does). With
   * it, a call repeated after a crash is answered from the service's store and not billed again;
   * `false` sends no key, and a worker killed mid-call may have that signature billed twice
   * (counted at GET /v1/usage). Default true: a service that ignores the header bills as before.
   */
  idempotency: z.boolean().default(true),
  contentsSize: ContentsSizeSchema,
  documentTimestampUrls: DocumentTimestampUrlsSchema,
  requireLtv: RequireLtvSchema,
  seals: SealsSchema,
  pdfPasswords: PdfPasswordsSchema,
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

export const WorkerConfigSchema = z.object({
  redisUrl: RedisUrlSchema,
  prefix: QueuePrefixSchema,
  /** Queues consumed, each by its own BullMQ worker. */
  queues: z
    .array(z.enum(SIGNING_QUEUES))
    .min(1)
    .default(() => [...SIGNING_QUEUES]),
  stores: StoresConfigSchema,
  signers: SignerProfilesSchema,
  /** Jobs run at once, per queue. */
  concurrency: z.int().min(1).default(8),
  /** Remote sign calls per second across every worker; unset means unlimited. */
  signingRateLimit: z.int().min(1).optional(),
  ...METRICS_FIELDS,
  /** BullMQ lock: a worker that stops renewing it for this long is presumed dead. */
  lockDurationMs: z.int().min(1).default(30_000),
  stalledIntervalMs: z.int().min(1).default(30_000),
  /** How often a job may be recovered from a dead worker before it fails (E_INTERNAL). */
  maxStalledCount: z.int().min(1).default(3),
  /** E-contracts (the `esign-contracts` queue) run when the contract secret is set. */
  ...CONTRACT_FIELDS,
  /**
   * A job naming a store this worker lacks is put back for a worker that has it (ForeignJobs),
   * for up to this long after it was submitted; then it fails E_INVALID_JOB (no worker has the store).
   */
  unknownStoreWaitMs: z
    .int()
    .min(0)
    .default(15 * 60_000),
  /**
   * How often each profile with a cheap call on its signing path (CSC credentials/info) is probed
   * for the API's /readyz; 0: never.
   */
  signerProbeIntervalMs: z.int().min(0).default(10_000),
  logLevel: LogLevelSchema.default("info"),
});
export type WorkerConfig = z.output<typeof WorkerConfigSchema>;
export type WorkerConfigInput = z.input<typeof WorkerConfigSchema>;

const WORKER_VARIABLES: EnvBindings<WorkerConfigInput> = {
  redisUrl: text("REDIS_URL"),
  prefix: text("ESIGN_QUEUE_PREFIX"),
  queues: list("WORKER_QUEUES"),
  stores: json("ESIGN_STORES"),
  signers: json("ESIGN_SIGNERS"),
  concurrency: integer("WORKER_CONCURRENCY"),
  signingRateLimit: integer("SIGNING_RATE_LIMIT"),
  ...METRICS_BINDINGS,
  lockDurationMs: integer("WORKER_LOCK_DURATION_MS"),
  stalledIntervalMs: integer("WORKER_STALLED_INTERVAL_MS"),
  maxStalledCount: integer("WORKER_MAX_STALLED_COUNT"),
  ...CONTRACT_BINDINGS,
  unknownStoreWaitMs: integer("WORKER_UNKNOWN_STORE_WAIT_MS"),
  signerProbeIntervalMs: integer("SIGNER_PROBE_INTERVAL_MS"),
  logLevel: text("LOG_LEVEL"),
};

/** Reads the worker's configuration from the environment; E_CONFIG names every bad variable. */
export const loadWorkerConfig = configLoader(WorkerConfigSchema, WORKER_VARIABLES, "worker environment");

/** A worker configuration built in code (an embedding process), defaults filled in. */
export function parseWorkerConfig(input: WorkerConfigInput): WorkerConfig {
  return parseConfig(WorkerConfigSchema, input, "worker configuration");
}
