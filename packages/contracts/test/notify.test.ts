import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { EsignError } from "@esign/errors";
import { createLogger } from "@esign/runtime";
import { Redis } from "ioredis";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createMailer,
  createSmsSender,
  type Notice,
  OUTBOX_LIMIT,
  OUTBOX_TTL_SECONDS,
  outboxKey,
  readOutbox,
  renderNotice,
} from "../src";

const SMTP_USER = "agent";
const SMTP_PASSWORD = "s3cret-Pa55word";

function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ name: "notify-test", level: "debug" }, sink), lines };
}

interface Received {
  from: string | undefined;
  to: string[];
  raw: string;
}

/** A real SMTP server over TCP on 127.0.0.1 with password authentication (no TLS: a test server). */
async function startSmtp(overrides: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD)
        callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
    ...overrides,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    received,
    url: (password = SMTP_PASSWORD) =>
      `smtp://${SMTP_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function rejection(promise: Promise<unknown>): Promise<EsignError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EsignError);
  return error as EsignError;
}

describe("createMailer over SMTP", () => {
  it("delivers subject, text, HTML and attachments, and never logs the SMTP password", async () => {
    const smtp = await startSmtp();
    const { logger, lines } = capturingLogger();
    const mailer = createMailer({ smtpUrl: smtp.url(), from: "esign@example.com", logger });
    try {
      const notice = renderNotice({
        kind: "completed",
        contractTitle: "Lease 42",
        recipientName: "Bob",
        url: "https://esign.example.com/c/1",
      });
      await mailer.send({
        to: "bob@example.com",
        ...notice,
        attachments: [
          { filename: "signed.pdf", content: Buffer.from("%PDF-1.7 test"), contentType: "application/pdf" },
        ],
      });
    } finally {
      await mailer.close();
      await smtp.close();
    }
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail!.from).toBe("esign@example.com");
    expect(mail!.to).toEqual(["bob@example.com"]);
    expect(mail!.raw).toContain("Subject: Completed: Lease 42");
    expect(mail!.raw).toContain('Every party has signed "Lease 42".');
    expect(mail!.raw).toContain("Content-Type: text/html");
    expect(mail!.raw).toMatch(/filename="?signed\.pdf/);
    expect(mail!.raw).toContain(Buffer.from("%PDF-1.7 test").toString("base64"));
    expect(lines.join("")).toContain("127.0.0.1");
    expect(lines.join("")).not.toContain(SMTP_PASSWORD);
  });

  it("keeps a hostile subject in its header and sends to exactly one address", async () => {
    const smtp = await startSmtp();
    const mailer = createMailer({ smtpUrl: smtp.url(), from: "esign@example.com" });
    try {
      await mailer.send({ to: "bob@example.com", subject: "Lease\r\nBcc: eve@example.com", text: "t" });
      for (const to of [
        "bob@example.com, eve@example.com",
        "Bob <eve@example.com>",
        "bob@example.com\r\nBcc: eve@example.com",
      ]) {
        const error = await rejection(mailer.send({ to, subject: "s", text: "t" }));
        expect(error).toMatchObject({ code: "E_NOTIFY_FAILED", permanent: true });
      }
    } finally {
      await mailer.close();
      await smtp.close();
    }
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]!.to).toEqual(["bob@example.com"]);
    expect(smtp.received[0]!.raw).not.toMatch(/^Bcc:/im);
  });

  it("a recipient the server refuses is a permanent E_NOTIFY_FAILED without the password", async () => {
    const smtp = await startSmtp({
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error("5.1.1 no such user"), { responseCode: 550 }));
      },
    });
    const mailer = createMailer({ smtpUrl: smtp.url(), from: "esign@example.com" });
    try {
      const error = await rejection(mailer.send({ to: "nobody@example.com", subject: "s", text: "t" }));
      expect(error.code).toBe("E_NOTIFY_FAILED");
      expect(error.permanent).toBe(true);
      expect(error.message).toContain("no such user");
      expect(error.message).not.toContain(SMTP_PASSWORD);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it("refused credentials are permanent; the wrong password is not echoed", async () => {
    const smtp = await startSmtp();
    const wrong = "wrong-Pa55word";
    const mailer = createMailer({ smtpUrl: smtp.url(wrong), from: "esign@example.com" });
    try {
      const error = await rejection(mailer.send({ to: "bob@example.com", subject: "s", text: "t" }));
      expect(error.code).toBe("E_NOTIFY_FAILED");
      expect(error.permanent).toBe(true);
      expect(`${error.message} ${error.stack}`).not.toContain(wrong);
      expect(smtp.received).toHaveLength(0);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it("an unreachable server is a retryable E_NOTIFY_FAILED", async () => {
    const smtp = await startSmtp();
    const url = smtp.url();
    await smtp.close();
    const mailer = createMailer({ smtpUrl: url, from: "esign@example.com" });
    const error = await rejection(mailer.send({ to: "bob@example.com", subject: "s", text: "t" }));
    expect(error.code).toBe("E_NOTIFY_FAILED");
    expect(error.permanent).toBe(false);
    expect(error.message).not.toContain(SMTP_PASSWORD);
    await mailer.close();
  });

  it("without SMTP_URL or Redis it refuses to start (E_CONFIG)", () => {
    expect(() => createMailer({ from: "esign@example.com" })).toThrow(
      expect.objectContaining({ code: "E_CONFIG" }),
    );
  });
});

describe("the development outbox", () => {
  let redis: Redis;
  const prefix = `test-outbox-${randomUUID()}`;

  beforeAll(() => {
    redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: false });
  });
  afterAll(async () => {
    await redis.del(outboxKey(prefix));
    await redis.quit();
  });

  it("keeps the newest mails, newest first, without attachment bytes, with a TTL, and logs them", async () => {
    const { logger, lines } = capturingLogger();
    const mailer = createMailer({ from: "esign@example.com", redis, keyPrefix: prefix, logger });
    const otp = renderNotice({
      kind: "otp",
      contractTitle: "NDA",
      signerName: "Ann",
      code: "493817",
      minutes: 10,
    });
    await mailer.send({
      to: "ann@example.com",
      ...otp,
      attachments: [{ filename: "a.pdf", content: new Uint8Array(1234), contentType: "application/pdf" }],
    });
    for (let index = 0; index < OUTBOX_LIMIT + 4; index++) {
      await mailer.send({ to: `user${index}@example.com`, subject: `mail ${index}`, text: `text ${index}` });
    }
    await mailer.close();

    const outbox = await readOutbox(redis, prefix);
    expect(outbox).toHaveLength(OUTBOX_LIMIT);
    expect(outbox[0]).toMatchObject({
      to: `user${OUTBOX_LIMIT + 3}@example.com`,
      subject: `mail ${OUTBOX_LIMIT + 3}`,
    });
    expect(outbox.at(-1)).toMatchObject({ to: "user4@example.com" });
    expect(new Set(outbox.map((mail) => mail.id)).size).toBe(OUTBOX_LIMIT);
    expect(Date.parse(outbox[0]!.at)).toBeGreaterThan(Date.now() - 60_000);
    const ttl = await redis.ttl(outboxKey(prefix));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(OUTBOX_TTL_SECONDS);

    // The OTP mail has been pushed out of the list, but the log still shows it (dev mode only).
    const logged = lines.map((line) => JSON.parse(line));
    expect(logged[0].msg).toMatch(/development outbox/);
    const otpLine = logged.find((line) => line.mail?.to === "ann@example.com");
    expect(otpLine.mail.text).toContain("493817");
  });

  it("lists attachments by name and size only", async () => {
    const mailer = createMailer({ from: "esign@example.com", redis, keyPrefix: prefix });
    await mailer.send({
      to: "cat@example.com",
      subject: "with attachment",
      text: "see attached",
      attachments: [{ filename: "a.pdf", content: new Uint8Array(1234), contentType: "application/pdf" }],
    });
    const [newest] = await readOutbox(redis, prefix);
    expect(newest).toMatchObject({
      to: "cat@example.com",
      attachments: [{ filename: "a.pdf", contentType: "application/pdf", size: 1234 }],
    });
    expect(JSON.stringify(newest)).not.toContain('"content"');
  });
});

describe("createSmsSender", () => {
  let server: Server;
  let url: string;
  const requests: { body: unknown; contentType: string | undefined; authorization: string | undefined }[] =
    [];
  /** The status the gateway answers next; "hang" never answers. */
  let behaviour: number | "hang" = 204;

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        requests.push({
          body: JSON.parse(Buffer.concat(chunks).toString()),
          contentType: request.headers["content-type"],
          authorization: request.headers.authorization,
        });
        if (behaviour !== "hang") response.writeHead(behaviour).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://gw:gw-secret@127.0.0.1:${(server.address() as AddressInfo).port}/sms`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("POSTs {to, text} as JSON, the URL's credentials as Basic authorization", async () => {
    behaviour = 204;
    await createSmsSender({ webhookUrl: url }).send("+8613800000000", "验证码 123456");
    expect(requests.at(-1)).toEqual({
      body: { to: "+8613800000000", text: "验证码 123456" },
      contentType: "application/json",
      authorization: `Basic ${Buffer.from("gw:gw-secret").toString("base64")}`,
    });
  });

  it("a 5xx or 429 is retryable, another 4xx permanent; the URL's credentials stay out", async () => {
    for (const [status, permanent] of [
      [503, false],
      [429, false],
      [400, true],
    ] as const) {
      behaviour = status;
      const error = await rejection(createSmsSender({ webhookUrl: url }).send("+1", "x"));
      expect(error.code).toBe("E_NOTIFY_FAILED");
      expect(error.permanent).toBe(permanent);
      expect(error.message).toContain(String(status));
      expect(error.message).not.toContain("gw-secret");
    }
  });

  it("a gateway that does not answer in time is a retryable E_NOTIFY_FAILED", async () => {
    behaviour = "hang";
    const error = await rejection(createSmsSender({ webhookUrl: url, timeoutMs: 300 }).send("+1", "x"));
    expect(error.code).toBe("E_NOTIFY_FAILED");
    expect(error.permanent).toBe(false);
    expect(error.message).toContain("300 ms");
    expect(error.message).not.toContain("gw-secret");
  });

  it("without SMS_WEBHOOK_URL every send is a permanent E_CONFIG", async () => {
    const error = await rejection(createSmsSender({}).send("+1", "x"));
    expect(error.code).toBe("E_CONFIG");
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("sms-otp");
  });
});

describe("renderNotice", () => {
  const hostile = `<script>alert("x")</script> & 'Co'`;
  const notices: Notice[] = [
    {
      kind: "invitation",
      contractTitle: hostile,
      signerName: hostile,
      senderName: hostile,
      url: "https://e.example/s/a?b=1&c=2",
      expiresAt: "2026-12-31T17:00:00.000Z",
    },
    { kind: "otp", contractTitle: hostile, signerName: hostile, code: "123456", minutes: 10 },
    {
      kind: "reminder",
      contractTitle: hostile,
      signerName: hostile,
      senderName: hostile,
      url: "https://e.example/s/a?b=1&c=2",
    },
    { kind: "completed", contractTitle: hostile, recipientName: hostile, url: "https://e.example/c?b=1&c=2" },
    { kind: "signer-locked", contractTitle: hostile, signerName: hostile },
    { kind: "declined", contractTitle: hostile, signerName: hostile, reason: hostile },
    { kind: "voided", contractTitle: hostile, recipientName: hostile },
    { kind: "expired", contractTitle: hostile, recipientName: hostile },
  ];

  for (const lang of ["en", "zh-CN"] as const) {
    it(`escapes every interpolated value in the HTML (${lang})`, () => {
      for (const notice of notices) {
        const { subject, text, html } = renderNotice(notice, lang);
        expect(html).not.toContain("<script>");
        expect(html).not.toContain(`"x"`);
        expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;");
        expect(
          html
            .match(/<[^>]*>/g)!
            .every((tag) => /^<\/?(!doctype html|html|head|meta|title|body|p|a)\b/.test(tag)),
        ).toBe(true);
        // Subject and text are not HTML: they carry the values as given.
        expect(subject).toContain(hostile);
        expect(text).toContain(hostile);
        if ("url" in notice) {
          expect(html).toContain(`href="${notice.url.replaceAll("&", "&amp;")}"`);
          expect(text).toContain(notice.url);
        }
      }
    });
  }

  it("speaks English and Simplified Chinese", () => {
    const invitation: Notice = {
      kind: "invitation",
      contractTitle: "劳动合同",
      signerName: "张伟",
      senderName: "人事部",
      url: "https://e.example/s/t",
      expiresAt: "2026-12-31T17:00:00.000Z",
    };
    expect(renderNotice(invitation).subject).toBe("Please sign: 劳动合同");
    expect(renderNotice(invitation).text).toContain("Please sign before 2026-12-31 17:00 UTC.");
    const zh = renderNotice(invitation, "zh-CN");
    expect(zh.subject).toBe("请签署：劳动合同");
    expect(zh.text).toContain("人事部 邀请您签署《劳动合同》。");
    expect(zh.text).toContain("请在 2026-12-31 17:00 UTC 之前完成签署。");
    expect(zh.html).toContain('<html lang="zh-CN">');
    const otp = renderNotice(
      { kind: "otp", contractTitle: "NDA", signerName: "Ann", code: "042917", minutes: 10 },
      "zh-CN",
    );
    expect(otp.text).toContain("042917");
    expect(otp.text).toContain("10 分钟内有效");
  });
});
