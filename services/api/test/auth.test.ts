/**
 * Who may call the gateway: the bearer scheme, the docs UI, and how fast wrong keys may be tried.
 * In process on real Redis and a real local store, with a low rate limit so it is reached quickly.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "./gateway";

const RATE_LIMIT_PER_MINUTE = 5;
const DEV_KEY = `devkey-${randomBytes(12).toString("hex")}`;

let base: string;
let gateway: TestGateway | undefined;

beforeAll(async () => {
  gateway = await startTestGateway("auth", {
    devApiKey: DEV_KEY,
    rateLimitPerMinute: RATE_LIMIT_PER_MINUTE,
  });
  ({ base } = gateway);
});

afterAll(() => gateway?.close());

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
