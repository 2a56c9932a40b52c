/**
 * The gateway's contract routes in process (real Redis, real local store, no worker): what
 * `POST /v1/contracts` refuses, tenant scoping, signer links without a key, and the development
 * outbox at `GET /dev/mail` when no SMTP server is configured.
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { SAMPLES_DIR } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../src";
import { startTestGateway, type TestGateway } from "./gateway";

const DEV_KEY = `devkey-${randomBytes(12).toString("hex")}`;
const OTHER_KEY = `other-${randomBytes(12).toString("hex")}`;

let base: string;
let dataDir: string;
let gateway: TestGateway | undefined;
let pdf: Buffer;

beforeAll(async () => {
  pdf = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
  gateway = await startTestGateway("contracts", {
    devApiKey: DEV_KEY,
    tenants: { other: { stores: { default: ["other/"] } } },
    apiKeys: [{ sha256: hashApiKey(OTHER_KEY), tenant: "other" }],
    contractSecret: randomBytes(32).toString("hex"),
    publicUrl: "https://sign.example",
  });
  ({ base, dataDir } = gateway);
});

afterAll(() => gateway?.close());

const signers = [{ name: "Pia", email: "pia@example.com", auth: { method: "email-otp" } }];

function createContract(contract: unknown, options: { key?: string; document?: boolean } = {}) {
  const form = new FormData();
  form.set("contract", typeof contract === "string" ? contract : JSON.stringify(contract));
  if (options.document !== false) form.set("document", new Blob([pdf], { type: "application/pdf" }), "c.pdf");
  return fetch(`${base}/v1/contracts`, {
    method: "POST",
    headers: { authorization: `Bearer ${options.key ?? DEV_KEY}` },
    body: form,
  });
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(JSON.parse(text)).toMatchObject({ error: { code } });
}

describe("POST /v1/contracts", () => {
  it("refuses a contract it cannot run, with a typed error, and keeps nothing", async () => {
    await expectError(await createContract("{not json"), 400, "E_INVALID_REQUEST");
    await expectError(await createContract({ title: "x", signers: [] }), 400, "E_INVALID_REQUEST");
    await expectError(
      await createContract({ title: "x", signers: [{ ...signers[0], auth: { method: "sms-otp" } }] }),
      400,
      "E_INVALID_REQUEST",
    );
    await expectError(
      await createContract({ title: "x", signers, expiresAt: "2001-01-01T00:00:00Z" }),
      400,
      "E_INVALID_REQUEST",
    );
    await expectError(await createContract({ title: "x", signers }, { document: false }), 415, "E_NOT_PDF");
    await expectError(
      await createContract({ title: "x", signers, seal: { signer: "someone-elses" } }),
      403,
      "E_FORBIDDEN",
    );
    await expectError(
      await fetch(`${base}/v1/contracts`, {
        method: "POST",
        headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ title: "x", signers }),
      }),
      415,
      "E_UNSUPPORTED_MEDIA",
    );
    const list = await fetch(`${base}/v1/contracts`, { headers: { authorization: `Bearer ${DEV_KEY}` } });
    expect(await list.json()).toMatchObject({ items: [], total: 0 });
    // No uploaded document is left behind.
    const kept = await readdir(join(dataDir, "objects"), { recursive: true, withFileTypes: true }).catch(
      () => [],
    );
    expect(kept.filter((entry) => entry.isFile()).map((entry) => entry.name)).toEqual([]);
  });

  it("creates a contract whose link works without a key, visible to its tenant only, mails in /dev/mail", async () => {
    const created = await createContract({ title: "NDA", signers });
    expect(created.status, await created.clone().text()).toBe(201);
    const { id, signers: links } = (await created.json()) as { id: string; signers: { url: string }[] };
    expect(links[0]!.url).toMatch(/^https:\/\/sign\.example\/s\/[A-Za-z0-9_-]{43}$/);
    const token = links[0]!.url.split("/s/")[1]!;

    const view = await fetch(`${base}/v1/signing/${token}`);
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({ contractId: id, title: "NDA", yourTurn: true });
    const document = await fetch(`${base}/v1/signing/${token}/document`);
    expect(Buffer.from(await document.arrayBuffer()).equals(pdf)).toBe(true);
    await expectError(await fetch(`${base}/v1/signing/${"A".repeat(43)}`), 404, "E_NOT_FOUND");
    await expectError(
      await fetch(`${base}/v1/signing/${token}/sign`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ consent: false, otp: "123456" }),
      }),
      400,
      "E_INVALID_REQUEST",
    );

    const owner = await fetch(`${base}/v1/contracts/${id}`, {
      headers: { authorization: `Bearer ${DEV_KEY}` },
    });
    expect(await owner.json()).toMatchObject({ id, status: "in_progress", signers: [{ status: "pending" }] });
    const other = await fetch(`${base}/v1/contracts/${id}`, {
      headers: { authorization: `Bearer ${OTHER_KEY}` },
    });
    await expectError(other, 404, "E_NOT_FOUND");

    // The dev outbox: admin keys only (it holds codes and links).
    await expectError(
      await fetch(`${base}/dev/mail`, { headers: { authorization: `Bearer ${OTHER_KEY}` } }),
      403,
      "E_FORBIDDEN",
    );
    const outbox = (await (
      await fetch(`${base}/dev/mail`, { headers: { authorization: `Bearer ${DEV_KEY}` } })
    ).json()) as { to: string; text: string }[];
    expect(outbox.find((mail) => mail.to === "pia@example.com")?.text).toContain(links[0]!.url);
  });

  it("lists every tenant's contracts to an admin key (one tenant's with ?tenant=), a tenant key its own only", async () => {
    const created = async (title: string, key?: string) => {
      const response = await createContract({ title, signers }, { key });
      expect(response.status, await response.clone().text()).toBe(201);
      return ((await response.json()) as { id: string }).id;
    };
    const devId = await created("Admin-scope dev contract");
    const otherId = await created("Admin-scope other contract", OTHER_KEY);
    const list = async (key: string, query = "") => {
      const response = await fetch(`${base}/v1/contracts${query}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(response.status, await response.clone().text()).toBe(200);
      return ((await response.json()) as { items: { id: string; tenant: string }[] }).items;
    };

    const all = await list(DEV_KEY);
    expect(all.map((item) => item.id)).toEqual(expect.arrayContaining([devId, otherId]));
    const onlyOther = await list(DEV_KEY, "?tenant=other");
    expect(onlyOther.map((item) => item.id)).toContain(otherId);
    expect(onlyOther.every((item) => item.tenant === "other")).toBe(true);
    expect((await list(DEV_KEY, "?tenant=dev")).map((item) => item.id)).not.toContain(otherId);
    // The admin reads the other tenant's contract too.
    const detail = await fetch(`${base}/v1/contracts/${otherId}`, {
      headers: { authorization: `Bearer ${DEV_KEY}` },
    });
    expect(await detail.json()).toMatchObject({ id: otherId, tenant: "other" });

    // The OpenAPI document declares it: every listed contract names its tenant.
    interface JsonSchema {
      type?: string;
      required?: string[];
      properties?: Record<string, JsonSchema>;
      items?: JsonSchema;
    }
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<
        string,
        { get: { responses: Record<string, { content: Record<string, { schema: JsonSchema }> }> } }
      >;
    };
    const page = openapi.paths["/v1/contracts"]!.get.responses["200"]!.content["application/json"]!.schema;
    const item = page.properties?.items?.items;
    expect(item?.required).toContain("tenant");
    expect(item?.properties?.tenant).toMatchObject({ type: "string" });

    const own = await list(OTHER_KEY);
    expect(own.map((item) => item.id)).toContain(otherId);
    expect(own.every((item) => item.tenant === "other")).toBe(true);
    expect((await list(OTHER_KEY, "?tenant=other")).map((item) => item.id)).toContain(otherId);
    await expectError(
      await fetch(`${base}/v1/contracts?tenant=dev`, { headers: { authorization: `Bearer ${OTHER_KEY}` } }),
      403,
      "E_FORBIDDEN",
    );
  });

  it("lets an admin key void and read any tenant's contract, recorded as the admin's act; a tenant key finds no other tenant's", async () => {
    const created = async (title: string, key?: string) => {
      const response = await createContract({ title, signers }, { key });
      expect(response.status, await response.clone().text()).toBe(201);
      return ((await response.json()) as { id: string }).id;
    };
    const otherId = await created("Sent by mistake", OTHER_KEY);
    const devId = await created("Dev's own");
    const call = (key: string, method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });

    // A tenant key gets the same 404 for another tenant's contract as for one that does not exist.
    const missing = `ctr_${"0".repeat(32)}`;
    for (const id of [devId, missing]) {
      await expectError(await call(OTHER_KEY, "POST", `/v1/contracts/${id}/void`, {}), 404, "E_NOT_FOUND");
      for (const path of ["", "/audit", "/evidence"]) {
        await expectError(await call(OTHER_KEY, "GET", `/v1/contracts/${id}${path}`), 404, "E_NOT_FOUND");
      }
    }
    expect(await (await call(DEV_KEY, "GET", `/v1/contracts/${devId}`)).json()).toMatchObject({
      status: "in_progress",
    });

    // The admin key (tenant "dev") voids the other tenant's contract.
    const voided = await call(DEV_KEY, "POST", `/v1/contracts/${otherId}/void`, {
      reason: "sent by mistake",
    });
    expect(voided.status, await voided.clone().text()).toBe(200);
    expect(await voided.json()).toMatchObject({ id: otherId, tenant: "other", status: "voided" });
    // Its owner sees it voided, by the admin's key, not by its own tenant.
    const trail = (await (
      await call(OTHER_KEY, "GET", `/v1/contracts/${otherId}/audit?verify=1`)
    ).json()) as {
      entries: { type: string; details?: unknown }[];
      verification: { valid: boolean };
    };
    expect(trail.verification.valid).toBe(true);
    expect(trail.entries.filter((entry) => entry.type === "voided").map((entry) => entry.details)).toEqual([
      { reason: "sent by mistake", by: { tenant: "dev", keyName: "dev", admin: true } },
    ]);
    // A repeat is refused as for the owner: it is closed.
    await expectError(
      await call(DEV_KEY, "POST", `/v1/contracts/${otherId}/void`, {}),
      409,
      "E_CONTRACT_CLOSED",
    );
    // The admin reads the trail and the evidence pack of the other tenant's contract too.
    const adminTrail = await call(DEV_KEY, "GET", `/v1/contracts/${otherId}/audit`);
    expect(adminTrail.status).toBe(200);
    const evidence = await call(DEV_KEY, "GET", `/v1/contracts/${otherId}/evidence`);
    expect(evidence.status, await evidence.clone().text()).toBe(200);
    expect(evidence.headers.get("content-type")).toBe("application/zip");
    // A tenant key voiding its own contract is recorded as its own act.
    const own = await created("Other's own", OTHER_KEY);
    expect((await call(OTHER_KEY, "POST", `/v1/contracts/${own}/void`, {})).status).toBe(200);
    const ownTrail = (await (await call(OTHER_KEY, "GET", `/v1/contracts/${own}/audit`)).json()) as {
      entries: { type: string; details?: { by?: unknown } }[];
    };
    expect(ownTrail.entries.find((entry) => entry.type === "voided")?.details).toEqual({
      by: { tenant: "other", keyName: expect.any(String), admin: false },
    });
  });
});
