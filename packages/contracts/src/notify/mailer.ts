import { randomUUID } from "node:crypto";
import { EsignError } from "@esign/errors";
import { QUEUE_PREFIX } from "@esign/jobs";
import type { Redis } from "ioredis";
import { createTransport } from "nodemailer";
import type { Logger } from "pino";

export interface MailAttachment {
  filename: string;
  content: Uint8Array;
  contentType: string;
}

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  attachments?: MailAttachment[];
}

export interface Mailer {
  send(m: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/** A mail as the dev outbox keeps it: attachments are listed, their bytes are not kept. */
export interface OutboxMail extends Omit<MailMessage, "attachments"> {
  id: string;
  /** ISO time the mail was put in the outbox. */
  at: string;
  attachments?: { filename: string; contentType: string; size: number }[];
}

export interface MailerOptions {
  /** SMTP_URL, e.g. `smtps://user:pass@smtp.example.com`; without it mails go to the dev outbox. */
  smtpUrl?: string;
  /** MAIL_FROM. */
  from: string;
  /** Needed for the dev outbox (no `smtpUrl`). */
  redis?: Redis;
  /** Redis key prefix of the outbox; default the queue prefix. */
  keyPrefix?: string;
  logger?: Logger;
}

/** The outbox keeps the newest mails only, and forgets them a day after the last one. */
export const OUTBOX_LIMIT = 200;
export const OUTBOX_TTL_SECONDS = 24 * 3600;

/** Bounds on one SMTP exchange: a hung server must not hold a signer's request or a job forever. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export function outboxKey(keyPrefix: string = QUEUE_PREFIX): string {
  return `${keyPrefix}:dev-mail-outbox`;
}

/**
 * Mail through SMTP (nodemailer) when `smtpUrl` is set; otherwise the development outbox in Redis,
 * each mail also printed to the log. The outbox keeps OTP mails in clear: production sets SMTP_URL
 * (docs/security.md).
 */
export function createMailer(options: MailerOptions): Mailer {
  let mailer: Mailer;
  if (options.smtpUrl) {
    mailer = smtpMailer(options.smtpUrl, options);
  } else if (options.redis) {
    mailer = outboxMailer(options.redis, outboxKey(options.keyPrefix), options);
  } else {
    throw new EsignError("E_CONFIG", "mail needs SMTP_URL, or a Redis connection for the development outbox");
  }
  return {
    async send(message) {
      assertSingleAddress(message.to);
      await mailer.send(message);
    },
    close: () => mailer.close(),
  };
}

/**
 * One plain address per mail: a signer's e-mail is sender input, and `"a@x, b@y"` or a display name
 * would otherwise reach several mailboxes (an OTP among them) through the address parser.
 */
function assertSingleAddress(to: string): void {
  if (!/^[^\s@,;:<>()[\]"\\]+@[^\s@,;:<>()[\]"\\]+$/.test(to)) {
    throw new EsignError(
      "E_NOTIFY_FAILED",
      `not a single e-mail address: ${JSON.stringify(to.slice(0, 200))}`,
      {
        permanent: true,
      },
    );
  }
}

function smtpMailer(smtpUrl: string, options: MailerOptions): Mailer {
  const { server, password } = parseSmtpUrl(smtpUrl);
  const transport = createTransport({
    url: smtpUrl,
    ...SMTP_TIMEOUTS,
    // Message fields are ours, but a path or URL as attachment content must never be fetched.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  options.logger?.info({ server }, "mail: sending through SMTP");
  return {
    async send(message) {
      try {
        await transport.sendMail({
          from: options.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
          attachments: message.attachments?.map((attachment) => ({
            filename: attachment.filename,
            content: Buffer.from(attachment.content),
            contentType: attachment.contentType,
          })),
        });
      } catch (cause) {
        throw smtpError(cause, server, password);
      }
    },
    async close() {
      transport.close();
    },
  };
}

/**
 * The server as logged (scheme, host, port: `loggableUrl` has no origin for smtp: URLs), and the
 * password, to be scrubbed from any error message that might echo it.
 */
function parseSmtpUrl(smtpUrl: string): { server: string; password: string | undefined } {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    throw new EsignError("E_CONFIG", "SMTP_URL is not a valid URL");
  }
  const password = decodeURIComponent(url.password);
  return {
    server: `${url.protocol}//${url.hostname}${url.port ? `:${url.port}` : ""}`,
    password: password === "" ? undefined : password,
  };
}

interface NodemailerError extends Error {
  code?: string;
  responseCode?: number;
}

/**
 * A 5xx answer about the envelope (recipient refused) or the message, and refused credentials, do
 * not get better by retrying; connection failures, timeouts and 4xx answers often do.
 */
function smtpError(cause: unknown, server: string, password: string | undefined): EsignError {
  const error = cause as NodemailerError;
  const permanent =
    error.code === "EAUTH" ||
    error.code === "ENOAUTH" ||
    ((error.code === "EENVELOPE" || error.code === "EMESSAGE") &&
      error.responseCode !== undefined &&
      error.responseCode >= 500);
  let message = `mail through ${server} failed: ${error.message ?? String(cause)}`;
  if (password) message = message.split(password).join("[redacted]");
  // The cause is kept out: nodemailer errors carry the connection details, credentials included.
  return new EsignError("E_NOTIFY_FAILED", message, { permanent });
}

function outboxMailer(redis: Redis, key: string, options: MailerOptions): Mailer {
  options.logger?.warn(
    { outbox: key },
    "mail: SMTP_URL is not set; mails (one-time codes included) go to the development outbox, GET /dev/mail",
  );
  return {
    async send(message) {
      const mail: OutboxMail = {
        id: randomUUID(),
        at: new Date().toISOString(),
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        attachments: message.attachments?.map(({ filename, contentType, content }) => ({
          filename,
          contentType,
          size: content.length,
        })),
      };
      try {
        const results = await redis
          .multi()
          .lpush(key, JSON.stringify(mail))
          .ltrim(key, 0, OUTBOX_LIMIT - 1)
          .expire(key, OUTBOX_TTL_SECONDS)
          .exec();
        // A transaction reports its commands' failures in the results, not by rejecting.
        const failed = results?.find(([error]) => error)?.[0];
        if (failed || !results) throw failed ?? new Error("transaction discarded");
      } catch (cause) {
        throw new EsignError("E_NOTIFY_FAILED", `cannot put the mail in the development outbox: ${cause}`, {
          cause,
        });
      }
      options.logger?.info(
        { mail: { id: mail.id, from: options.from, to: mail.to, subject: mail.subject, text: mail.text } },
        "mail (development outbox)",
      );
    },
    async close() {},
  };
}

/** The development outbox, newest mail first (GET /dev/mail). */
export async function readOutbox(redis: Redis, keyPrefix: string): Promise<OutboxMail[]> {
  const entries = await redis.lrange(outboxKey(keyPrefix), 0, -1);
  return entries.map((entry) => JSON.parse(entry) as OutboxMail);
}
