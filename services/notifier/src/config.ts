import { readFileSync } from "node:fs";
import { EsignError } from "@esign/errors";
import { QUEUE_PREFIX, QUEUES } from "@esign/jobs";
import { z } from "zod";
import { parseCidr } from "./cidr";
import { WebhookSecretSchema } from "./secrets";

const TenantSchema = z.object({
  /** Every active secret signs each message: two during a rotation, one otherwise. */
  secrets: z.array(WebhookSecretSchema).min(1, "each tenant needs at least one whsec_ secret"),
});

// The secrets file is only checked for its shape here; the tenants inside are validated (and
// their secrets decoded) with the rest of the configuration.
const SecretsFileSchema = z.object({ tenants: z.unknown() }, { message: 'expected { "tenants": { ... } }' });

const CidrSchema = z
  .string()
  .refine((text) => parseCidr(text) !== undefined, "expected a CIDR such as 10.0.0.0/8 or fd00::/8");

export const NotifierConfigSchema = z.object({
  redisUrl: z.url({ protocol: /^rediss?$/, message: "REDIS_URL must be a redis:// or rediss:// URL" }),
  queuePrefix: z.string().min(1).default(QUEUE_PREFIX),
  queueName: z.string().min(1).default(QUEUES.webhooks),
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
});

export type NotifierConfigInput = z.input<typeof NotifierConfigSchema>;
export type NotifierConfig = z.output<typeof NotifierConfigSchema>;

export function parseNotifierConfig(input: unknown): NotifierConfig {
  return parseOrThrow(NotifierConfigSchema, input, "notifier configuration");
}

const optionalInt = (name: string) =>
  z.string().regex(/^\d+$/, `${name} must be a whole number`).transform(Number).optional();
const commaList = z
  .string()
  .transform((text) =>
    text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  )
  .optional();

const NotifierEnvSchema = z.object({
  REDIS_URL: z.string({ message: "REDIS_URL is required" }),
  ESIGN_QUEUE_PREFIX: z.string().optional(),
  WEBHOOK_SECRETS_FILE: z.string().min(1).optional(),
  WEBHOOK_SECRETS: z.string().min(1).optional(),
  WEBHOOK_ALLOW_HOSTS: commaList,
  WEBHOOK_ALLOW_CIDRS: commaList,
  WEBHOOK_RETRY_WINDOW_SECONDS: optionalInt("WEBHOOK_RETRY_WINDOW_SECONDS"),
  WEBHOOK_RETRY_BASE_DELAY_MS: optionalInt("WEBHOOK_RETRY_BASE_DELAY_MS"),
  WEBHOOK_TIMEOUT_MS: optionalInt("WEBHOOK_TIMEOUT_MS"),
  WEBHOOK_CONCURRENCY: optionalInt("WEBHOOK_CONCURRENCY"),
});

/**
 * Reads the configuration from the environment. Tenant secrets come from the JSON file named
 * by WEBHOOK_SECRETS_FILE (preferred: keeps secrets out of `ps` and crash dumps of the env) or
 * from the WEBHOOK_SECRETS JSON, both shaped `{ "tenants": { "<tenant>": { "secrets": [...] } } }`.
 */
export function loadNotifierConfigFromEnv(env: NodeJS.ProcessEnv = process.env): NotifierConfig {
  const vars = parseOrThrow(NotifierEnvSchema, env, "environment");
  const secretsFile = parseOrThrow(SecretsFileSchema, readSecretsJson(vars), "webhook secrets");
  return parseNotifierConfig({
    redisUrl: vars.REDIS_URL,
    queuePrefix: vars.ESIGN_QUEUE_PREFIX,
    tenants: secretsFile.tenants,
    allowHosts: vars.WEBHOOK_ALLOW_HOSTS,
    allowCidrs: vars.WEBHOOK_ALLOW_CIDRS,
    retryWindowSeconds: vars.WEBHOOK_RETRY_WINDOW_SECONDS,
    retryBaseDelayMs: vars.WEBHOOK_RETRY_BASE_DELAY_MS,
    timeoutMs: vars.WEBHOOK_TIMEOUT_MS,
    concurrency: vars.WEBHOOK_CONCURRENCY,
  });
}

function readSecretsJson(vars: z.output<typeof NotifierEnvSchema>): unknown {
  if (vars.WEBHOOK_SECRETS_FILE !== undefined && vars.WEBHOOK_SECRETS !== undefined) {
    throw new EsignError("E_CONFIG", "set either WEBHOOK_SECRETS_FILE or WEBHOOK_SECRETS, not both");
  }
  if (vars.WEBHOOK_SECRETS_FILE !== undefined) {
    let text: string;
    try {
      text = readFileSync(vars.WEBHOOK_SECRETS_FILE, "utf8");
    } catch (cause) {
      throw new EsignError("E_CONFIG", `cannot read WEBHOOK_SECRETS_FILE ${vars.WEBHOOK_SECRETS_FILE}`, {
        cause,
      });
    }
    return parseJson(text, "WEBHOOK_SECRETS_FILE");
  }
  if (vars.WEBHOOK_SECRETS !== undefined) return parseJson(vars.WEBHOOK_SECRETS, "WEBHOOK_SECRETS");
  throw new EsignError(
    "E_CONFIG",
    "set WEBHOOK_SECRETS_FILE or WEBHOOK_SECRETS to the tenants' webhook secrets",
  );
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // The JSON syntax error quotes the text around the fault, i.e. possibly a secret: drop it.
    throw new EsignError("E_CONFIG", `${source} is not valid JSON`);
  }
}

function parseOrThrow<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  what: string,
): z.output<Schema> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new EsignError("E_CONFIG", `invalid ${what}:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}
