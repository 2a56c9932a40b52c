/**
 * What the e-contract tests through a running agent share: a real SMTP server that keeps what it
 * receives, a webhook receiver that checks Standard Webhooks signatures, and the owner's and the
 * signers' HTTP calls.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { freePort } from "@esign/runtime";
import { SAMPLES_DIR } from "@esign/testkit";
import { SMTPServer } from "smtp-server";
import { Webhook } from "standardwebhooks";
import { expect } from "vitest";
import { type RunningAgent, startAllInOne } from "./all-in-one";

export interface ReceivedMail {
  to: string[];
  raw: string;
}

/** Mail bodies may be quoted-printable: soft line breaks undone before searching. */
export const plain = (raw: string) => raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");

export interface MailCatcher {
  port: number;
  mails: ReceivedMail[];
  /** The first mail to `address` after the first `after` mails whose text matches `subject` (waits up to 30 s). */
  mailTo(address: string, subject: RegExp, after: number): Promise<string>;
  close(): Promise<void>;
}

/** A real SMTP server (npm smtp-server) on a free port, keeping every mail it receives. */
export async function startMailCatcher(): Promise<MailCatcher> {
  const mails: ReceivedMail[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    onData(stream, session, done) {
      let raw = "";
      stream.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
      stream.on("end", () => {
        mails.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw });
        done();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => smtp.listen(port, "127.0.0.1", resolve));
  expect((smtp.server.address() as AddressInfo).port).toBe(port);
  return {
    port,
    mails,
    async mailTo(address, subject, after) {
      for (let i = 0; i < 300; i++) {
        const found = mails
          .slice(after)
          .find((mail) => mail.to.includes(address) && subject.test(plain(mail.raw)));
        if (found) return plain(found.raw);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no mail to ${address} matching ${subject}; got ${mails.length} mails`);
    },
    close: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  };
}

export interface ContractWebhookEvent {
  type: string;
  data: { contractId: string; signerId?: string; status?: string; reason?: string };
}

export interface HookCatcher {
  url: string;
  received: { headers: IncomingMessage["headers"]; body: string }[];
  /** Every delivery so far, its signature verified with `secret` (a bad one throws). */
  events(secret: string): ContractWebhookEvent[];
  /** Waits (up to 30 s) for the `type` event of `contractId`. */
  announced(secret: string, contractId: string, type: string): Promise<ContractWebhookEvent>;
  close(): Promise<void>;
}

/** An HTTP receiver of webhooks on a free port, answering 204. */
export async function startHookCatcher(): Promise<HookCatcher> {
  const received: HookCatcher["received"] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const events = (secret: string) =>
    received.map(
      ({ headers, body }) =>
        new Webhook(secret).verify(body, headers as Record<string, string>) as ContractWebhookEvent,
    );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/contracts`,
    received,
    events,
    async announced(secret, contractId, type) {
      for (let i = 0; i < 300; i++) {
        const event = events(secret).find(
          (entry) => entry.type === type && entry.data.contractId === contractId,
        );
        if (event) return event;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no ${type} for ${contractId}`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function expectError(response: Response, status: number, code: string): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(JSON.parse(text)).toMatchObject({ error: { code } });
}

export interface ContractView {
  id: string;
  status: string;
  signatures: number;
  expiresAt?: string;
  signers: { id: string; status: string; certificateSubject?: string }[];
}

/** The owner's and the signers' calls to whichever agent `current()` answers (it changes on a restart). */
export function contractCalls(current: () => RunningAgent) {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${current().base}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${current().devKey}`, ...init.headers },
    });
  /** Signer routes: the token in the path is the only credential. */
  const signer = (url: string, action = "", body?: unknown) => {
    const token = url.split("/s/")[1]!;
    return fetch(`${current().base}/v1/signing/${token}${action && `/${action}`}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json", "user-agent": "contracts-e2e" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  };
  const contract = async (id: string): Promise<ContractView> => {
    const response = await api(`/v1/contracts/${id}`);
    expect(response.status).toBe(200);
    return (await response.json()) as ContractView;
  };
  /** Polls the contract until `done` holds (up to `ms`), answering the last view. */
  const contractWhen = async (id: string, done: (view: ContractView) => boolean, ms = 30_000) => {
    let view = await contract(id);
    for (const until = Date.now() + ms; !done(view) && Date.now() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      view = await contract(id);
    }
    return view;
  };
  return { api, signer, contract, contractWhen };
}

/** The multipart body of `POST /v1/contracts`: the contract JSON and a sample PDF. */
export async function contractForm(contract: unknown, sample = "chromium-invoice.pdf"): Promise<FormData> {
  const form = new FormData();
  form.set("contract", JSON.stringify(contract));
  const pdf = await readFile(join(SAMPLES_DIR, sample));
  form.set("document", new Blob([pdf], { type: "application/pdf" }), "contract.pdf");
  return form;
}

export interface ContractAgent {
  mail: MailCatcher;
  hooks: HookCatcher;
  agent: RunningAgent;
  /** The secret the agent signs its webhooks with. */
  webhookSecret: string;
}

/** The agent (`pnpm start`) sending mail to a fresh SMTP server and webhooks to a fresh receiver. */
export async function startContractAgent(env: Record<string, string> = {}): Promise<ContractAgent> {
  const mail = await startMailCatcher();
  const hooks = await startHookCatcher();
  const webhookSecret = `whsec_${randomBytes(24).toString("base64")}`;
  const agent = await startAllInOne({
    SMTP_URL: `smtp://127.0.0.1:${mail.port}`,
    MAIL_FROM: "Contracts <contracts@example.com>",
    ESIGN_WEBHOOK_SECRET: webhookSecret,
    WEBHOOK_ALLOW_CIDRS: "127.0.0.0/8",
    LOG_LEVEL: "warn",
    ...env,
  });
  return { mail, hooks, agent, webhookSecret };
}

export async function stopContractAgent(running: Partial<ContractAgent>): Promise<void> {
  running.agent?.stop();
  await running.mail?.close();
  await running.hooks?.close();
}
