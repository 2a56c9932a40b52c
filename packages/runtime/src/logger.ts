import { type DestinationStream, type Logger, pino } from "pino";
import { z } from "zod";

export const LogLevelSchema = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof LogLevelSchema>;

export interface LoggerOptions {
  /** The service, logged as `name` on every line. */
  name: string;
  /** Default "info"; services pass their LOG_LEVEL. */
  level?: LogLevel;
}

const LOGGER_DEFAULTS = { level: "info" } as const satisfies Partial<LoggerOptions>;

/**
 * Fields whose values never reach a log, wherever they sit in a logged object (up to four levels
 * deep, where configuration objects keep them): the names signing services (CSC authData, OAuth),
 * webhooks, S3 and our own configuration give their secrets. One list for every service, so a field
 * redacted in one is redacted in all.
 */
const SECRET_FIELDS = [
  "password",
  "passphrase",
  "pin",
  "PIN",
  "otp",
  "OTP",
  "SAD",
  "token",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "adminToken",
  "apiKey",
  "api_key",
  "privateKey",
  "secretAccessKey",
  "clientSecret",
  "client_secret",
  "secret",
  "secrets",
  "authorization",
  "cookie",
];

/** Callback URLs may carry credentials (`https://user:pass@host`) or tokens in their query. */
const CALLBACK_URL_PATHS = ["callback.url", "callbackUrl"];

const atAnyDepth = (path: string) => [path, `*.${path}`, `*.*.${path}`, `*.*.*.${path}`];

export const REDACTED_PATHS = [
  ...SECRET_FIELDS.flatMap(atAnyDepth),
  ...atAnyDepth('headers["x-api-key"]'),
  // CSC credentials/authorize: [{ "id": "PIN", "value": "1234" }]
  ...atAnyDepth("authData[*].value"),
  ...CALLBACK_URL_PATHS.flatMap(atAnyDepth),
  // fastify logs each request's URL, query included: `POST /v1/sign?callbackUrl=...`, and a
  // signer's link carries the signer's only credential in its path: `GET /s/<token>`
  "req.url",
];

/** The logger of a service: JSON lines, at `level`, with every secret in REDACTED_PATHS censored. */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const { name, level } = { ...LOGGER_DEFAULTS, ...options };
  const settings = { name, level, redact: { paths: REDACTED_PATHS, censor } };
  return destination === undefined ? pino(settings) : pino(settings, destination);
}

/** The receiver URL as logged: no credentials, and no query (where receivers often put tokens). */
export function loggableUrl(rawUrl: string): string {
  try {
    const url = new URL(rawUrl);
    return `${url.origin}${url.pathname}${url.search === "" ? "" : "?…"}`;
  } catch {
    return "(invalid URL)";
  }
}

// Wildcard paths hand over the first segment as a symbol: only the last ones tell fields apart.
function censor(value: unknown, path: readonly (string | symbol)[]): unknown {
  if (typeof value !== "string") return "[redacted]";
  const [parent, field] = path.slice(-2);
  if (parent === "req" && field === "url") return withLoggableCallbackUrl(withoutSignerToken(value));
  if ((parent === "callback" && field === "url") || field === "callbackUrl") return loggableUrl(value);
  return "[redacted]";
}

/**
 * A signer link's token is the signer's credential until the contract closes: the page (`/s/<token>`)
 * and the signer API (`/v1/signing/<token>/...`) are logged with the token replaced.
 */
const SIGNER_TOKEN_IN_PATH = /^(\/s\/|\/v1\/signing\/)[^/?#]+/;

function withoutSignerToken(requestUrl: string): string {
  return requestUrl.replace(SIGNER_TOKEN_IN_PATH, "$1[token]");
}

function withLoggableCallbackUrl(requestUrl: string): string {
  // Every URL in the query, not only `callbackUrl`: a misspelt or repeated one gets the request
  // refused, yet the request is still logged. Each is logged without credentials or query.
  let url: URL;
  try {
    url = new URL(requestUrl, "http://request.invalid");
  } catch {
    return "(invalid URL)";
  }
  const entries = [...url.searchParams];
  if (!entries.some(([, value]) => URL_LIKE.test(value))) return requestUrl;
  const query = entries.map(([name, value]): [string, string] => [
    name,
    URL_LIKE.test(value) ? loggableUrl(value) : value,
  ]);
  return `${url.pathname}?${new URLSearchParams(query)}`;
}

/** An absolute URL as a URL parser reads it (leading blanks, `\\` for `/`): where credentials can hide. */
const URL_LIKE = /^\s*[A-Za-z][A-Za-z0-9+.-]*:[/\\]/;
