import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";

/** Secrets never reach the log: credentials in headers and the secrets some bodies carry. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "req.headers.cookie",
  "*.client_secret",
  "*.PIN",
  "*.OTP",
  "*.pin",
  "*.otp",
  "*.SAD",
  "*.access_token",
];

/** The simulator's pino logger; `destination` defaults to stdout. */
export function createLogger(level: LoggerOptions["level"], destination?: DestinationStream): Logger {
  const options = { name: "esign-sim", level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  return destination ? pino(options, destination) : pino(options);
}
