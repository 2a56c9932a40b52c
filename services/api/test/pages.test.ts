/**
 * The gateway's pages in process: the shells, their security headers and language, the assets
 * `pnpm build` made (built here if stale), and the key check the console signs in with.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../../scripts/build.mjs";
import { PAGE_CSP } from "../src/routes/pages";
import { startTestGateway, type TestGateway } from "./gateway";

const SIGNER_LINK_POSTS_PER_MINUTE = 5;
const DEV_KEY = `devkey-${randomBytes(12).toString("hex")}`;

let base: string;
let gateway: TestGateway | undefined;

beforeAll(async () => {
  await build(["api"], { ifStale: true });
  gateway = await startTestGateway("pages", {
    devApiKey: DEV_KEY,
    // E-contracts on, so the signer API (and its limit) is there.
    contractSecret: randomBytes(32).toString("base64url"),
    signerLinkRateLimitPerMinute: SIGNER_LINK_POSTS_PER_MINUTE,
  });
  ({ base } = gateway);
});

afterAll(() => gateway?.close());

describe("pages", () => {
  it("serves the signer page without a key, in the reader's language, under the strict CSP", async () => {
    const english = await fetch(`${base}/s/${randomBytes(32).toString("base64url")}`);
    expect(english.status).toBe(200);
    expect(english.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(english.headers.get("content-security-policy")).toBe(PAGE_CSP);
    expect(english.headers.get("referrer-policy")).toBe("no-referrer");
    expect(english.headers.get("cache-control")).toBe("no-store");
    expect(await english.text()).toContain('<html lang="en">');

    const chinese = await fetch(`${base}/s/abc`, { headers: { "accept-language": "fr;q=0.9, zh-Hans-CN" } });
    const html = await chinese.text();
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).toContain("<title>签署文件</title>");
  });

  it("serves the built assets, and nothing outside their folder", async () => {
    const script = await fetch(`${base}/assets/signer.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(script.headers.get("content-security-policy")).toBe(PAGE_CSP);
    expect((await fetch(`${base}/assets/pdf.worker.min.mjs`)).status).toBe(200);
    expect((await fetch(`${base}/assets/cmaps/UniGB-UCS2-H.bcmap`)).status).toBe(200);
    for (const path of [
      "/assets/..%2Fmain.js",
      "/assets/%2e%2e%2f%2e%2e%2fpackage.json",
      "/assets/nothing.js",
    ]) {
      const refused = await fetch(`${base}${path}`);
      expect(refused.status, path).toBe(404);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("E_NOT_FOUND");
    }
  });

  it("tells the console who a key is, and refuses no key", async () => {
    const me = await fetch(`${base}/v1/whoami`, { headers: { authorization: `Bearer ${DEV_KEY}` } });
    expect(await me.json()).toEqual({ tenant: "dev", admin: true, keyName: "dev" });
    expect((await fetch(`${base}/v1/whoami`)).status).toBe(401);
  });

  it("limits the signer link's POSTs per address far below the API's limit", async () => {
    const token = randomBytes(32).toString("base64url");
    const statuses: number[] = [];
    for (let attempt = 0; attempt <= SIGNER_LINK_POSTS_PER_MINUTE; attempt++) {
      const response = await fetch(`${base}/v1/signing/${token}/challenge`, { method: "POST" });
      statuses.push(response.status);
    }
    // Unknown token (404) until the limit, then refused before the token is even looked up.
    expect(statuses).toEqual([...Array(SIGNER_LINK_POSTS_PER_MINUTE).fill(404), 429]);
    // Reading the page's data is not a POST: the general limit applies.
    expect((await fetch(`${base}/v1/signing/${token}`)).status).toBe(404);
  });
});
