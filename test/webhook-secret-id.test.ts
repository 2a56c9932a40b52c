/**
 * Jobs whose `callback.secretId` names a webhook secret (the example in docs/producers.md), through
 * the agent as a user starts it (`pnpm start`): the webhook is signed with the named secret, checked
 * by the `standardwebhooks` library a receiver uses. Through the API, a tenant may name only the
 * secrets it was granted.
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
import { type RunningAgent, sha256hex, startAllInOne } from "./support/all-in-one";

const TENANT_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const ERP_HOOK_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const ERP_KEY = `erp-${randomBytes(12).toString("hex")}`;

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
    // Tenant erp may name the secret erp-hook in its callbacks; dev (the dev key's tenant) may not.
    ESIGN_TENANTS: JSON.stringify({
      erp: { stores: { default: ["erp/", "signed/erp/"] }, webhookSecretIds: ["erp-hook"] },
    }),
    ESIGN_API_KEYS: JSON.stringify([{ sha256: sha256hex(ERP_KEY), tenant: "erp", name: "erp" }]),
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

async function putDocument(key: string): Promise<void> {
  await mkdir(join(agent.dataDir, "objects", "erp"), { recursive: true });
  await copyFile(join(SAMPLES_DIR, "chromium-invoice.pdf"), join(agent.dataDir, "objects", key));
}

/**
 * The first webhook received after `count` had arrived. Count before submitting: the notifier may
 * deliver before the producer hears of the completion.
 */
async function webhookAfter(count: number): Promise<(typeof received)[number]> {
  for (let i = 0; i < 300 && received.length === count; i++)
    await new Promise((done) => setTimeout(done, 100));
  expect(received).toHaveLength(count + 1);
  return received[count]!;
}

const post = (path: string, key: string, body: unknown) =>
  fetch(`${agent.base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

it("signs the webhook of a producer's job with the secret its callback.secretId names, not the tenant's", async () => {
  const key = "erp/contract-4711.pdf";
  await putDocument(key);

  const before = received.length;
  const { id } = await client.submit({
    input: { store: "default", key },
    signer: "default",
    callback: { url: receiverUrl, secretId: "erp-hook" },
    metadata: { invoice: "INV-2026-4711" },
    tenant: "dev",
  });
  await client.waitFor(id, { timeoutMs: 60_000 });

  const { headers, body } = await webhookAfter(before);
  const payload = new Webhook(ERP_HOOK_SECRET).verify(body, headers as Record<string, string>);
  expect(payload).toMatchObject({
    type: "job.completed",
    data: { jobId: id, tenant: "dev", metadata: { invoice: "INV-2026-4711" } },
  });
  expect(() => new Webhook(TENANT_SECRET).verify(body, headers as Record<string, string>)).toThrow(
    /No matching signature found/,
  );
});

it("lets an API tenant name only the webhook secrets it was granted", async () => {
  const key = "erp/contract-4712.pdf";
  await putDocument(key);
  const job = { input: { store: "default", key }, callback: { url: receiverUrl, secretId: "erp-hook" } };

  for (const [path, body] of [
    ["/v1/jobs", job],
    ["/v1/batches", { items: [{ input: job.input }], callback: job.callback }],
    ["/v1/batches", { items: [{ input: job.input, callback: job.callback }] }],
  ] as const) {
    const refused = await post(path, agent.devKey, body);
    expect(refused.status, path).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "E_FORBIDDEN" } });
  }

  const before = received.length;
  const accepted = await post("/v1/jobs", ERP_KEY, job);
  expect(accepted.status, await accepted.clone().text()).toBe(202);
  const { id } = (await accepted.json()) as { id: string };
  const { headers, body } = await webhookAfter(before);
  expect(new Webhook(ERP_HOOK_SECRET).verify(body, headers as Record<string, string>)).toMatchObject({
    type: "job.completed",
    data: { jobId: id, tenant: "erp" },
  });
});
