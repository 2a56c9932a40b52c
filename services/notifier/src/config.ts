import { QUEUES, QueuePrefixSchema } from "@esign/jobs";
import {
  configLoader,
  type EnvBindings,
  integer,
  json,
  jsonFile,
  LogLevelSchema,
  list,
  METRICS_BINDINGS,
  METRICS_FIELDS,
  parseConfig,
  RedisUrlSchema,
  text,
} from "@esign/runtime";
import { z } from "zod";
import { parseCidr } from "./cidr";
import { WebhookSecretSchema } from "./secrets";

const TenantSchema = z.object({
  /** Every active secret signs each message: two during a rotation, one otherwise. */
  secrets: z.array(WebhookSecretSchema).min(1, "each tenant needs at least one whsec_ secret"),
});

const CidrSchema = z
  .string()
  .refine((text) => parseCidr(text) !== undefined, "expected a CIDR such as 10.0.0.0/8 or fd00::/8");

export const NotifierConfigSchema = z.object({
  redisUrl: RedisUrlSchema,
  queuePrefix: QueuePrefixSchema,
  queueName: z.string().min(1).default(QUEUES.webhooks),
  /** Secrets by tenant or by the `callback.secretId` jobs name (see webhookSecretsKey in @esign/jobs). */
  tenants: z.record(z.string().min(1), TenantSchema),
  /** Host names exempt from the SSRF guard; `*.corp.example` matches subdomains. */
  allowHosts: z.array(z.string().min(1).toLowerCase()).default([]),
  /** Address ranges exempt from the SSRF guard, e.g. the enterprise's own network. */
  allowCidrs: z.array(CidrSchema).default([]),
  retryWindowSeconds: z
    .number()
    .int()
    .positive()
    .default(24 * 60 * 60),
  retryBaseDelayMs: z.number().int().positive().default(5_000),
  retryMaxDelayMs: z
    .number()
    .int()
    .positive()
    .default(60 * 60 * 1000),
  /** Attempts for a 4xx answer other than 408/410/425/429 before giving up (see README). */
  clientErrorAttempts: z.number().int().min(1).default(3),
  timeoutMs: z.number().int().positive().default(10_000),
  concurrency: z.number().int().positive().default(10),
  deliveryLogSize: z.number().int().positive().default(100),
  deliveryLogTtlSeconds: z
    .number()
    .int()
    .positive()
    .default(30 * 24 * 60 * 60),
  /** Standalone only: the process serves /metrics and /healthz (embedded, the host process does). */
  ...METRICS_FIELDS,
  logLevel: LogLevelSchema.default("info"),
});

export type NotifierConfigInput = z.input<typeof NotifierConfigSchema>;
export type NotifierConfig = z.output<typeof NotifierConfigSchema>;

export function parseNotifierConfig(input: NotifierConfigInput): NotifierConfig {
  return parseConfig(NotifierConfigSchema, input, "notifier configuration");
}

const NOTIFIER_VARIABLES: EnvBindings<NotifierConfigInput> = {
  redisUrl: text("REDIS_URL"),
  queuePrefix: text("ESIGN_QUEUE_PREFIX"),
  // `{"tenants": {...}}`, inline, or in a file: WEBHOOK_SECRETS={"file": ...} or WEBHOOK_SECRETS_FILE
  // (either keeps secrets out of `ps` and crash dumps of the environment).
  tenants: [
    json("WEBHOOK_SECRETS", { member: "tenants" }),
    jsonFile("WEBHOOK_SECRETS_FILE", { member: "tenants" }),
  ],
  allowHosts: list("WEBHOOK_ALLOW_HOSTS"),
  allowCidrs: list("WEBHOOK_ALLOW_CIDRS"),
  retryWindowSeconds: integer("WEBHOOK_RETRY_WINDOW_SECONDS"),
  retryBaseDelayMs: integer("WEBHOOK_RETRY_BASE_DELAY_MS"),
  timeoutMs: integer("WEBHOOK_TIMEOUT_MS"),
  concurrency: integer("WEBHOOK_CONCURRENCY"),
  ...METRICS_BINDINGS,
  logLevel: text("LOG_LEVEL"),
};

/** Reads the configuration from the environment; E_CONFIG names every bad variable. */
export const loadNotifierConfigFromEnv = configLoader(
  NotifierConfigSchema,
  NOTIFIER_VARIABLES,
  "notifier environment",
);
