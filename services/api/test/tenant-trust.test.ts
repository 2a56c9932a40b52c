/**
 * `POST /v1/verify` judges trust with the caller's tenant's own trust sources when it names some,
 * else with the global ones: in process on real Redis, with a PDF signed by poppler and its root.
 */
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueCertificate, toPem } from "@esign/pades/testing";
import { SAMPLES_DIR } from "@esign/testkit";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi, parseApiConfig } from "../src";

const SIGNED = join(SAMPLES_DIR, "already-signed-poppler.pdf");
const SIGNER_ROOT = join(SAMPLES_DIR, "already-signed-poppler.root.pem");
const sha256hex = (text: string) => createHash("sha256").update(text).digest("hex");
/** One key per tenant: the key decides whose trust sources judge the upload. */
const KEYS = {
  global: `global-${randomBytes(12).toString("hex")}`,
  ownRoot: `own-${randomBytes(12).toString("hex")}`,
  otherRoot: `other-${randomBytes(12).toString("hex")}`,
};

let app: FastifyInstance;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "esign-tenant-trust-"));
  // A root that signed nothing here: the tenant trusting only it must not trust poppler's signer.
  const unrelatedRoot = join(dir, "unrelated-root.pem");
  const { certificate } = await issueCertificate({ subject: "CN=Unrelated Root", keyType: "p256", ca: true });
  await writeFile(unrelatedRoot, toPem(certificate));
  // A folder, as an operator would mount one per tenant, holding the signer's root.
  const signerRoots = join(dir, "signer-roots");
  await mkdir(signerRoots);
  await copyFile(SIGNER_ROOT, join(signerRoots, "root.pem"));
  const stores = { default: [""] };
  const config = parseApiConfig({
    port: 0,
    redisUrl: "redis://127.0.0.1:6379",
    queuePrefix: `{esign-tenant-trust-${randomBytes(4).toString("hex")}}`,
    dataDir: dir,
    trustRoots: [SIGNER_ROOT],
    tenants: {
      global: { stores },
      ownRoot: { stores, trust: [signerRoots] },
      otherRoot: { stores, trust: [unrelatedRoot] },
    },
    apiKeys: Object.entries(KEYS).map(([tenant, key]) => ({ sha256: sha256hex(key), tenant })),
    logLevel: "warn",
  });
  app = await buildApi({ config });
  await app.listen({ port: 0, host: "127.0.0.1" });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

async function trustedFor(key: string): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/verify`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/pdf" },
    body: await readFile(SIGNED),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  const report = (await response.json()) as { chainChecked: boolean; signatures: { trusted: boolean }[] };
  expect(report.chainChecked).toBe(true);
  expect(report.signatures).toHaveLength(1);
  return report.signatures[0]!.trusted;
}

describe("per-tenant trust in POST /v1/verify", () => {
  it("trusts the signer for the tenant whose own sources hold its root, not for the one trusting another root", async () => {
    expect(await trustedFor(KEYS.ownRoot)).toBe(true);
    expect(await trustedFor(KEYS.otherRoot)).toBe(false);
  });

  it("falls back to the global trust roots for a tenant that names none", async () => {
    expect(await trustedFor(KEYS.global)).toBe(true);
  });
});

describe("tenant trust settings", () => {
  it("refuses an empty trust list at start rather than read it as 'trust nothing' or 'trust the global roots'", () => {
    expect(() =>
      parseApiConfig({ redisUrl: "redis://127.0.0.1:6379", tenants: { acme: { stores: {}, trust: [] } } }),
    ).toThrow(/tenants\.acme\.trust.*name at least one trust source/s);
  });
});
