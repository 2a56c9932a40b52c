/**
 * The signer page (`/s/<token>`) and the operator console (`/console`) in a real browser: Debian's
 * chromium driven by playwright-core, against the agent as a user starts it (`pnpm start`, the
 * built bundles), with a real SMTP server receiving its mail. People's steps, not API calls: open
 * the link from the mail, read the rendered PDF, ask for the code, type it, sign, download. Every
 * page is scanned with axe-core, every request the browser makes is recorded (none may leave the
 * agent's origin), every CSP violation fails the test. Screenshots go to docs/screenshots/.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { freePort } from "@esign/runtime";
import { REPO_ROOT, SAMPLES_DIR } from "@esign/testkit";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  // In CI .ci/run installs chromium: its absence there is a failure, not a skip.
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install chromium`);
  console.warn(
    `\n${"!".repeat(78)}\n!! SKIPPED signer-page browser tests: ${CHROMIUM} is not installed.\n` +
      `!! apt-get install chromium fonts-noto-cjk (CI installs them and runs these tests).\n${"!".repeat(78)}\n`,
  );
}

const SCREENSHOTS = join(REPO_ROOT, "docs/screenshots");
const AXE_SOURCE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

interface Mail {
  to: string[];
  raw: string;
}

let agent: RunningAgent;
let browser: Browser;
let smtp: SMTPServer;
const mails: Mail[] = [];
/** Every URL any page of the browser asked for. */
const requests: string[] = [];
/** CSP violations and page errors, reported by the browser's console. */
const pageProblems: string[] = [];

describe.skipIf(!HAVE_CHROMIUM)("signer page and console in chromium", () => {
  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, session, done) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          mails.push({
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          done();
        });
      },
    });
    const smtpPort = await freePort();
    await new Promise<void>((done) => smtp.listen(smtpPort, "127.0.0.1", done));
    const port = await freePort();
    agent = await startAllInOne({
      PORT: String(port),
      ESIGN_PUBLIC_URL: `http://127.0.0.1:${port}`,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      MAIL_FROM: "esign-agent <agent@example.test>",
      // Request lines are logged at info: the test checks that no signer token is among them.
      LOG_LEVEL: "info",
    });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    agent?.stop();
    await new Promise<void>((done) => (smtp ? smtp.close(done) : done()));
  });

  it("serves the pages with a strict CSP, no referrer, and assets from its own origin", async () => {
    for (const path of ["/s/some-token", "/console", "/assets/signer.js", "/assets/pdf.worker.min.mjs"]) {
      const response = await fetch(`${agent.base}${path}`);
      expect(response.status, path).toBe(200);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toMatch(/unsafe-inline|https?:/);
      expect(response.headers.get("referrer-policy"), path).toBe("no-referrer");
    }
    const html = await (await fetch(`${agent.base}/s/some-token`)).text();
    // No inline script: the only script is the bundle, by URL.
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/assets/signer.js">']);
    expect((await fetch(`${agent.base}/assets/..%2Fmain.js`)).status).toBe(404);
  });

  it("tells a person with an unknown link that it is not valid, in English or Chinese", async () => {
    const { page, context } = await open(DESKTOP, "en-GB,en;q=0.9");
    await page.goto(`${agent.base}/s/not-a-real-token`);
    await expect.poll(() => page.locator("#message").textContent()).toContain("This link is not valid");
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "signer-unknown-link-desktop.png") });
    await context.close();

    const zh = await open(PHONE, "zh-CN,zh;q=0.9,en;q=0.5");
    await zh.page.goto(`${agent.base}/s/not-a-real-token`);
    await expect.poll(() => zh.page.locator("#message").textContent()).toContain("此链接无效");
    expect(await zh.page.getAttribute("html", "lang")).toBe("zh-CN");
    // Switching language re-renders in place.
    await zh.page.selectOption("#language", "en");
    await expect.poll(() => zh.page.locator("#message").textContent()).toContain("This link is not valid");
    await zh.page.selectOption("#language", "zh-CN");
    await expectAccessible(zh.page);
    await zh.page.screenshot({ path: join(SCREENSHOTS, "signer-unknown-link-phone-zh.png") });
    await zh.context.close();
  });

  it("lets an operator sign in with an API key and see batches and failed jobs, and retry one", async () => {
    // A job that fails for good (not a PDF) and a batch of one document.
    await mkdir(join(agent.dataDir, "objects/console"), { recursive: true });
    await writeFile(join(agent.dataDir, "objects/console/not-a-pdf.pdf"), "just text");
    await copyFile(
      join(SAMPLES_DIR, "chromium-invoice.pdf"),
      join(agent.dataDir, "objects/console/invoice.pdf"),
    );
    const job = await api<{ id: string }>("POST", "/v1/jobs", {
      input: { store: "default", key: "console/not-a-pdf.pdf" },
    });
    await expect
      .poll(async () => (await api<{ state: string }>("GET", `/v1/jobs/${job.id}`)).state, {
        timeout: 60_000,
      })
      .toBe("failed");
    const batch = await api<{ id: string }>("POST", "/v1/batches", {
      items: [{ input: { store: "default", key: "console/invoice.pdf" } }],
    });

    const { page, context } = await open(DESKTOP, "en-US");
    await page.goto(`${agent.base}/console`);
    await page.fill("#api-key", "not-a-key-at-all-0000");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#message").textContent()).toContain("The API key was refused");
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "console-login-desktop.png") });

    await page.fill("#api-key", agent.devKey);
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator("#scope").textContent())
      .toBe("Administrator (all tenants) · key dev");
    // The key lives in this tab's sessionStorage only.
    expect(await page.evaluate(() => sessionStorage.getItem("esign.console.apiKey"))).toBe(agent.devKey);
    expect(await page.evaluate(() => localStorage.getItem("esign.console.apiKey"))).toBeNull();

    await page.click("#nav-batches");
    await expect.poll(() => page.locator("#content").textContent()).toContain(batch.id);
    await expect.poll(() => page.locator("#content progress").count()).toBeGreaterThan(0);
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "console-batches-desktop.png"), fullPage: true });

    await page.click("#nav-jobs");
    const row = page.locator("tr", { hasText: job.id });
    await expect.poll(() => row.textContent()).toContain("E_NOT_PDF");
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "console-failed-jobs-desktop.png"), fullPage: true });
    await row.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => page.locator("#notice").textContent()).toBe(`Job ${job.id} queued again.`);
    // Retried for real: it ran again (and fails again, the input being what it is).
    await expect
      .poll(async () => (await api<{ attempts: number; state: string }>("GET", `/v1/jobs/${job.id}`)).state, {
        timeout: 60_000,
      })
      .toBe("failed");

    // Keyboard only: Tab reaches the navigation, Enter opens a section.
    await page.focus("#nav-contracts");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#section-heading").textContent()).toBe("Contracts");
    await page.screenshot({ path: join(SCREENSHOTS, "console-contracts-desktop.png"), fullPage: true });
    await context.close();

    const zh = await open(PHONE, "zh-CN");
    await zh.page.goto(`${agent.base}/console`);
    await expect.poll(() => zh.page.locator("h1").textContent()).toBe("esign-agent 控制台");
    await expectAccessible(zh.page);
    await zh.page.screenshot({ path: join(SCREENSHOTS, "console-login-phone-zh.png") });
    await zh.context.close();
  });

  it("never logs a signer's token, and the browser asked nothing of another origin", () => {
    expect(agent.output()).toContain("/s/[token]");
    expect(agent.output()).not.toContain("not-a-real-token");
    const foreign = requests.filter((url) => !url.startsWith(`${agent.base}/`) && !url.startsWith("data:"));
    expect(foreign).toEqual([]);
    expect(requests.length).toBeGreaterThan(10);
    expect(pageProblems).toEqual([]);
  });
});

/** A fresh browser context (no shared storage) with its viewport and language, recorded. */
async function open(
  viewport: { width: number; height: number },
  acceptLanguage: string,
): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext({
    viewport,
    locale: acceptLanguage.split(",")[0],
    extraHTTPHeaders: { "accept-language": acceptLanguage },
    acceptDownloads: true,
    ...(viewport.width < 500 && { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }),
  });
  context.on("request", (request) => requests.push(request.url()));
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Refused to/i.test(message.text())) {
      pageProblems.push(message.text());
    }
  });
  page.on("pageerror", (error) => pageProblems.push(String(error)));
  return { page, context };
}

/** axe-core, loaded from node_modules through DevTools (the page's CSP rightly forbids inline scripts). */
async function expectAccessible(page: Page): Promise<void> {
  await page.evaluate(await readFile(AXE_SOURCE, "utf8"));
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: () => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map(({ id, impact, help, nodes }) => ({
      id,
      impact,
      help,
      targets: nodes.map((node) => node.target.join(" ")),
    }));
  });
  expect(violations.filter((each) => each.impact === "serious" || each.impact === "critical")).toEqual([]);
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${agent.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${agent.devKey}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}
