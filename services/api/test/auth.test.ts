/**
 * Who may call the gateway: the bearer scheme, the docs UI, and how fast wrong keys may be tried.
 * In process on real Redis and a real local store, with a low rate limit so it is reached quickly.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi, parseApiConfig } from "../src";

const RATE_LIMIT_PER_MINUTE = 5;
const DEV_KEY = `devkey-${randomBytes(12).toString("hex")}`;

let app: FastifyInstance;
let base: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "esign-api-auth-"));
  const config = parseApiConfig({
    port: 0,
    redisUrl: "redis://127.0.0.1:6379",
    queuePrefix: `{esign-auth-${randomBytes(4).toString("hex")}}`,
    dataDir,
    devApiKey: DEV_KEY,
    rateLimitPerMinute: RATE_LIMIT_PER_MINUTE,
    logLevel: "warn",
  });
  app = await buildApi({ config });
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await app?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const unknownJob = (authorization?: string) =>
  fetch(`${base}/v1/jobs/no-such-job`, { headers: authorization ? { authorization } : {} });

describe("API keys", () => {
  it("accepts the bearer scheme in any case", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      const response = await unknownJob(`${scheme} ${DEV_KEY}`);
      expect(response.status, scheme).toBe(404);
    }
  });

  it("requires a key for the docs UI but not for the OpenAPI document", async () => {
    expect((await fetch(`${base}/docs`)).status).toBe(401);
    expect((await fetch(`${base}/docs/static/index.html`)).status).toBe(401);
    const withKey = await fetch(`${base}/docs/static/index.html`, { headers: { "x-api-key": DEV_KEY } });
    expect(withKey.status).toBe(200);
    expect((await fetch(`${base}/openapi.json`)).status).toBe(200);
  });

  it("limits how many wrong keys one address may try", async () => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt <= RATE_LIMIT_PER_MINUTE; attempt++) {
      statuses.push((await unknownJob(`Bearer guess-${attempt}`)).status);
    }
    expect(statuses).toEqual([...Array(RATE_LIMIT_PER_MINUTE).fill(401), 429]);
    const refused = await unknownJob("Bearer one-more-guess");
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("E_RATE_LIMITED");
  });
});
