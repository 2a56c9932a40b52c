/**
 * A producer's job whose `callback.secretId` names a webhook secret (the example in
 * docs/producers.md), through the agent as a user starts it (`pnpm start`): the webhook is signed
 * with the named secret, checked by the `standardwebhooks` library a receiver uses.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { SigningClient } from "@esign/jobs";
import { SAMPLES_DIR } from "@esign/testkit";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";

const TENANT_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const ERP_HOOK_SECRET = `whsec_${randomBytes(24).toString("base64")}`;

let agent: RunningAgent;
let client: SigningClient;
let receiver: Server;
let receiverUrl: string;
const received: { headers: IncomingMessage["headers"]; body: string }[] = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/esign`;
  agent = await startAllInOne({
    // The tenant's own secret and a named one, as an operator configures them (README, notifier).
    WEBHOOK_SECRETS: JSON.stringify({
      tenants: { dev: { secrets: [TENANT_SECRET] }, "erp-hook": { secrets: [ERP_HOOK_SECRET] } },
    }),
    WEBHOOK_ALLOW_CIDRS: "127.0.0.0/8",
  });
  client = new SigningClient({
    connection: { host: "127.0.0.1", port: 6379 },
    prefix: agent.queuePrefix,
  });
});

afterAll(async () => {
  agent?.stop();
  await client?.close();
  await new Promise((done) => receiver?.close(done));
});

it("signs the webhook of a job with the secret its callback.secretId names, not the tenant's", async () => {
  const key = "erp/contract-4711.pdf";
  await mkdir(join(agent.dataDir, "objects", "erp"), { recursive: true });
  await copyFile(join(SAMPLES_DIR, "chromium-invoice.pdf"), join(agent.dataDir, "objects", key));

  const { id } = await client.submit({
    input: { store: "default", key },
    signer: "default",
    callback: { url: receiverUrl, secretId: "erp-hook" },
    metadata: { invoice: "INV-2026-4711" },
    tenant: "dev",
  });
  await client.waitFor(id, { timeoutMs: 60_000 });
  for (let i = 0; i < 300 && received.length === 0; i++) await new Promise((done) => setTimeout(done, 100));

  expect(received).toHaveLength(1);
  const [{ headers, body }] = received as [(typeof received)[0]];
  const payload = new Webhook(ERP_HOOK_SECRET).verify(body, headers as Record<string, string>);
  expect(payload).toMatchObject({
    type: "job.completed",
    data: { jobId: id, tenant: "dev", metadata: { invoice: "INV-2026-4711" } },
  });
  expect(() => new Webhook(TENANT_SECRET).verify(body, headers as Record<string, string>)).toThrow(
    /No matching signature found/,
  );
});
