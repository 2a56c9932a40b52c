/**
 * The signer page (`/s/<token>`) and the operator console (`/console`) in a real browser: Debian's
 * chromium driven by playwright-core, against the agent as a user starts it (`pnpm start`, the
 * built bundles), with a real SMTP server receiving its mail. People's steps, not API calls: open
 * the link from the mail, read the rendered PDF, ask for the code, type it, sign, download. Every
 * page is scanned with axe-core, every request the browser makes is recorded (none may leave the
 * agent's origin), every CSP violation fails the test. Screenshots go to a temporary folder, or
 * refresh docs/screenshots/ with UPDATE_SCREENSHOTS=1.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, SAMPLES_DIR, validate } from "@esign/testkit";
import { PDFDocument, PDFRef } from "pdf-lib";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "./support/all-in-one";
import { type ContractAgent, contractForm, startContractAgent, stopContractAgent } from "./support/contracts";
import { appearanceImages } from "./support/pdf-appearance";

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

/** The committed screenshots are rewritten only on request, so that a test run leaves the tree clean. */
const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === "1"
    ? join(REPO_ROOT, "docs/screenshots")
    : await mkdtemp(join(tmpdir(), "signer-page-screenshots-"));
const AXE_SOURCE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const PHONE = { width: 390, height: 844 };
/** How long a page may take to show what the server answered (a signature takes a few seconds). */
const SOON = { timeout: 30_000 };
const ALICE = "alice@example.test";
const BOB = "bob@example.test";
const CAROL = "carol@example.test";
const DAVE = "dave@example.test";
const ERIN = "erin@example.test";
/** The signer of another tenant's contract. */
const HANA = "hana@example.test";
const DESKTOP = { width: 1280, height: 900 };

let agent: RunningAgent;
let browser: Browser;
/** The agent with a real SMTP server for its mail and a webhook receiver (answering 204). */
let running: ContractAgent;
/** Every URL any page of the browser asked for. */
const requests: string[] = [];
/** CSP violations and page errors, reported by the browser's console. */
const pageProblems: string[] = [];
/** Signer tokens handed out, which must never appear in the agent's log. */
const tokens: string[] = [];

describe.skipIf(!HAVE_CHROMIUM)("signer page and console in chromium", () => {
  beforeAll(async () => {
    running = await startContractAgent({
      CONTRACT_SENDER_NAME: "Example Corp HR",
      // Request lines are logged at info: the test checks that no signer token is among them.
      LOG_LEVEL: "info",
    });
    agent = running.agent;
    browser = await chromium.launch({ executablePath: CHROMIUM });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stopContractAgent(running ?? {});
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
    await expect.poll(() => page.locator("#message").textContent(), SOON).toContain("This link is not valid");
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "signer-unknown-link-desktop.png") });
    await context.close();

    const zh = await open(PHONE, "zh-CN,zh;q=0.9,en;q=0.5");
    await zh.page.goto(`${agent.base}/s/not-a-real-token`);
    await expect.poll(() => zh.page.locator("#message").textContent(), SOON).toContain("此链接无效");
    expect(await zh.page.getAttribute("html", "lang")).toBe("zh-CN");
    // Switching language re-renders in place.
    await zh.page.selectOption("#language", "en");
    await expect
      .poll(() => zh.page.locator("#message").textContent(), SOON)
      .toContain("This link is not valid");
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
      callback: { url: running.hooks.url },
    });
    await expect
      .poll(async () => (await api<{ state: string }>("GET", `/v1/jobs/${job.id}`)).state, {
        timeout: 60_000,
      })
      .toBe("failed");
    const batch = await api<{ id: string }>("POST", "/v1/batches", {
      items: [{ input: { store: "default", key: "console/invoice.pdf" } }],
    });

    // Another tenant's key sees neither, and cannot retry the job.
    const theirs = await api<{ jobs: { id: string }[] }>(
      "GET",
      "/v1/jobs?state=failed",
      undefined,
      agent.otherKey,
    );
    expect(theirs.jobs.map((each) => each.id)).not.toContain(job.id);
    const batches = await api<{ batches: { id: string }[] }>("GET", "/v1/batches", undefined, agent.otherKey);
    expect(batches.batches.map((each) => each.id)).not.toContain(batch.id);
    await expect(api("POST", `/v1/jobs/${job.id}/retry`, {}, agent.otherKey)).rejects.toThrow(/404/);

    const { page, context } = await open(DESKTOP, "en-US");
    await page.goto(`${agent.base}/console`);
    await page.fill("#api-key", "not-a-key-at-all-0000");
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator("#message").textContent(), SOON)
      .toContain("The API key was refused");
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "console-login-desktop.png") });

    await page.fill("#api-key", agent.devKey);
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator("#scope").textContent())
      .toBe("Administrator (all tenants) · key dev");
    // The key lives in this tab's sessionStorage only.
    expect(await page.evaluate('sessionStorage.getItem("esign.console.apiKey")')).toBe(agent.devKey);
    expect(await page.evaluate('localStorage.getItem("esign.console.apiKey")')).toBeNull();

    await page.click("#nav-batches");
    await expect.poll(() => page.locator("#content").textContent(), SOON).toContain(batch.id);
    await expect.poll(() => page.locator("#content progress").count(), SOON).toBeGreaterThan(0);
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "console-batches-desktop.png"), fullPage: true });

    await page.click("#nav-jobs");
    const row = page.locator("tr", { hasText: job.id });
    await expect.poll(() => row.textContent(), SOON).toContain("E_NOT_PDF");
    await expectAccessible(page);
    // Its webhook (job.failed) reached the receiver; the console shows the delivery.
    await expect
      .poll(
        async () => (await api<{ deliveries: unknown[] }>("GET", `/v1/jobs/${job.id}/deliveries`)).deliveries,
        SOON,
      )
      .toHaveLength(1);
    await row.getByRole("button", { name: "Webhook deliveries" }).click();
    const deliveries = page.getByRole("table", { name: "Webhook deliveries" });
    await expect.poll(() => deliveries.textContent(), SOON).toContain("job.failed #1");
    expect(await deliveries.textContent()).toContain(`${running.hooks.url}delivered 204`);
    await page.screenshot({ path: join(SCREENSHOTS, "console-failed-jobs-desktop.png"), fullPage: true });
    await row.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => page.locator("#notice").textContent(), SOON).toBe(`Job ${job.id} queued again.`);
    // Retried for real: it ran again (and fails again, the input being what it is).
    await expect
      .poll(async () => (await api<{ attempts: number; state: string }>("GET", `/v1/jobs/${job.id}`)).state, {
        timeout: 60_000,
      })
      .toBe("failed");

    // Keyboard only: Tab reaches the navigation, Enter opens a section.
    await page.focus("#nav-contracts");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#section-heading").textContent(), SOON).toBe("Contracts");
    await page.screenshot({ path: join(SCREENSHOTS, "console-contracts-desktop.png"), fullPage: true });
    await context.close();

    const zh = await open(PHONE, "zh-CN");
    await zh.page.goto(`${agent.base}/console`);
    await expect.poll(() => zh.page.locator("h1").textContent(), SOON).toBe("esign-agent 控制台");
    await expectAccessible(zh.page);
    await zh.page.screenshot({ path: join(SCREENSHOTS, "console-login-phone-zh.png") });
    await zh.context.close();
  });

  it("runs a two-party contract through the pages: desktop (PIN + OTP) then phone (e-mail code)", async () => {
    const contract = await createContract("Supply agreement 2027", [
      {
        name: "Alice Example",
        email: ALICE,
        order: 1,
        auth: { method: "esign-api", credentialId: "alice-rsa" },
      },
      { name: "Bob Example", email: BOB, order: 2, auth: { method: "email-otp" } },
    ]);

    // Alice, on a laptop: the link from her invitation.
    const aliceLink = linkIn(await running.mail.mailTo(ALICE, /Please sign/, 0));
    expect(aliceLink).toBe(contract.signers[0]!.url);
    const alice = await open(DESKTOP, "en-US,en;q=0.9");
    await alice.page.goto(aliceLink);
    await expectRenderedPdf(alice.page);
    expect(await alice.page.textContent("#sender")).toBe("Example Corp HR asks you to sign this document.");
    await expectAccessible(alice.page);
    const alicePlacement = await expectSignatureBox(alice.page, aliceLink);
    await alice.page.screenshot({ path: join(SCREENSHOTS, "signer-1-document-desktop.png"), fullPage: true });
    await alice.page.screenshot({ path: join(SCREENSHOTS, "signer-1-signature-box-desktop.png") });

    // Bob's turn has not come: he can read, not sign.
    const early = await open(PHONE, "en-US");
    await early.page.goto(contract.signers[1]!.url);
    await expect
      .poll(() => early.page.locator("#message").textContent(), SOON)
      .toContain("not your turn yet");
    expect(await early.page.isDisabled("#sign")).toBe(true);
    await early.page.screenshot({
      path: join(SCREENSHOTS, "signer-2-not-your-turn-phone.png"),
      fullPage: true,
    });
    await early.context.close();

    await alice.page.check("#consent");
    await alice.page.click("#request-code");
    await expect
      .poll(() => alice.page.locator("#status").textContent(), SOON)
      .toContain("A code is on its way");
    await alice.page.fill("#pin", "1234");
    await alice.page.fill("#otp", "000000");
    await alice.page.click("#sign");
    await expect
      .poll(() => alice.page.locator("#message").textContent(), SOON)
      .toContain("That code is not right");
    await alice.page.screenshot({
      path: join(SCREENSHOTS, "signer-1-wrong-code-desktop.png"),
      fullPage: true,
    });
    // Alice draws her signature on the pad with the mouse (pointer events).
    await drawOnPad(alice.page);
    await alice.page
      .locator("#signature")
      .screenshot({ path: join(SCREENSHOTS, "signer-1-signature-pad-desktop.png") });
    await alice.page.fill("#pin", "1234");
    await alice.page.fill("#otp", await simulatorOtp("alice-rsa"));
    await alice.page.click("#sign");
    await alice.page.waitForSelector("#done", { timeout: 90_000 });
    await expectAccessible(alice.page);
    await alice.page.screenshot({ path: join(SCREENSHOTS, "signer-1-signed-desktop.png") });
    const afterAlice = await expectValidDownload(alice.page, "after-alice.pdf");
    // The worker put Alice's signature where her page showed it.
    expect(await signatureWidget(afterAlice, `Signer_${alicePlacement.signerId}`)).toEqual({
      lastPage: true,
      rect: alicePlacement.rect,
    });
    // Her drawing is in her signature's appearance: the pad's pixels, transparency as a soft mask.
    expect(await appearanceImages(await readFile(afterAlice), `Signer_${alicePlacement.signerId}`)).toEqual([
      { width: 680, height: 280, softMask: true },
    ]);
    await alice.context.close();

    // Bob, on a phone: his invitation arrives once Alice has signed; his code by e-mail.
    const bobLink = linkIn(await running.mail.mailTo(BOB, /Please sign/, 0));
    const bob = await open(PHONE, "en-US,en;q=0.9");
    await bob.page.goto(bobLink);
    await expectRenderedPdf(bob.page);
    const bobPlacement = await expectSignatureBox(bob.page, bobLink);
    // The second signer's box is beside the first one's, not on it.
    expect(bobPlacement.rect[0]).toBeGreaterThanOrEqual(alicePlacement.rect[2]);
    await expectAccessible(bob.page);
    await bob.page.screenshot({ path: join(SCREENSHOTS, "signer-2-document-phone.png"), fullPage: true });
    await bob.page.check("#consent");
    const mailsBefore = running.mail.mails.length;
    await bob.page.click("#request-code");
    const code = otpIn(await running.mail.mailTo(BOB, /signing code/, mailsBefore));
    await bob.page.fill("#otp", code === "000000" ? "111111" : "000000");
    await bob.page.click("#sign");
    await expect
      .poll(() => bob.page.locator("#message").textContent(), SOON)
      .toContain("That code is not right");
    await bob.page.screenshot({ path: join(SCREENSHOTS, "signer-2-wrong-code-phone.png"), fullPage: true });
    await bob.page.fill("#otp", code);
    // Bob, from the keyboard: his typed name becomes his signature image.
    await bob.page.fill("#typed-signature", "Bob Example");
    expect(await padInk(bob.page)).toBeGreaterThan(500);
    await bob.page.click("#sign");
    await bob.page.waitForSelector("#done", { timeout: 90_000 });
    await expectAccessible(bob.page);
    await bob.page.screenshot({ path: join(SCREENSHOTS, "signer-2-signed-phone.png") });
    const afterBob = await expectValidDownload(bob.page, "after-bob.pdf");
    expect(await signatureWidget(afterBob, `Signer_${bobPlacement.signerId}`)).toEqual({
      lastPage: true,
      rect: bobPlacement.rect,
    });
    expect(await appearanceImages(await readFile(afterBob), `Signer_${bobPlacement.signerId}`)).toEqual([
      { width: 680, height: 280, softMask: true },
    ]);
    await bob.context.close();
    tokens.push(...contract.signers.map((signer) => signer.url.split("/s/")[1]!));
  });

  it("lets a signer decline (access code, in Chinese), locks after five wrong codes, and lets an operator read audit trails and void a contract", async () => {
    const lease = await createContract("Lease 12B", [
      { name: "Carol Example", email: CAROL, order: 1, auth: { method: "access-code", code: "BLUE-42" } },
    ]);
    const quote = await createContract("Quote 77", [
      { name: "Erin Example", email: ERIN, order: 1, auth: { method: "access-code", code: "AMBER-3" } },
    ]);
    const nda = await createContract(
      "NDA draft",
      [{ name: "Dave Example", email: DAVE, order: 1, auth: { method: "access-code", code: "GREEN-7" } }],
      { callback: { url: running.hooks.url } },
    );
    // Another tenant's, sent by mistake: the operator's admin key stops it.
    const misdirected = await createContract(
      "Misdirected offer",
      [{ name: "Hana Example", email: HANA, order: 1, auth: { method: "access-code", code: "RED-9" } }],
      { key: agent.otherKey },
    );

    const carol = await open(PHONE, "zh-CN,zh;q=0.9");
    await carol.page.goto(linkIn(await running.mail.mailTo(CAROL, /Please sign/, 0)));
    await expectRenderedPdf(carol.page);
    // Keyboard only: Space ticks the box, Enter in the field submits, Enter opens the decline form.
    await carol.page.focus("#consent");
    await carol.page.keyboard.press("Space");
    expect(await carol.page.isChecked("#consent")).toBe(true);
    await carol.page.focus("#access-code");
    await carol.page.keyboard.type("RED-1");
    await carol.page.keyboard.press("Enter");
    await expect.poll(() => carol.page.locator("#message").textContent(), SOON).toContain("验证码不正确");
    await carol.page.focus(".decline summary");
    await carol.page.keyboard.press("Enter");
    await carol.page.focus("#decline-reason");
    await carol.page.keyboard.type("租期与约定不符");
    await carol.page.keyboard.press("Tab");
    await carol.page.keyboard.press("Enter");
    await carol.page.waitForSelector("#declined", SOON);
    await expectAccessible(carol.page);
    await carol.page.screenshot({ path: join(SCREENSHOTS, "signer-3-declined-phone-zh.png") });
    await carol.context.close();
    expect((await api<{ status: string }>("GET", `/v1/contracts/${lease.id}`)).status).toBe("declined");

    // Five wrong codes lock the signer: the page says so and offers nothing more to try.
    const erin = await open(DESKTOP, "en-US");
    await erin.page.goto(quote.signers[0]!.url);
    await erin.page.check("#consent");
    for (let attempt = 1; attempt < 5; attempt++) {
      await erin.page.fill("#access-code", `WRONG-${attempt}`);
      await erin.page.click("#sign");
      await expect
        .poll(() => erin.page.locator("#message").textContent(), SOON)
        .toContain(`Attempts left: ${5 - attempt}.`);
    }
    await erin.page.fill("#access-code", "WRONG-5");
    await erin.page.click("#sign");
    await expect.poll(() => erin.page.locator("#message").textContent(), SOON).toContain("signing is locked");
    expect(await erin.page.locator("#sign").count()).toBe(0);
    await expectAccessible(erin.page);
    await erin.page.screenshot({ path: join(SCREENSHOTS, "signer-4-locked-desktop.png") });
    await erin.page.reload();
    await expect.poll(() => erin.page.locator("#message").textContent(), SOON).toContain("signing is locked");
    await erin.context.close();

    // The two-party contract is complete once its seal is on.
    await expect
      .poll(
        async () => (await api<{ items: { title: string; status: string }[] }>("GET", "/v1/contracts")).items,
        {
          timeout: 90_000,
        },
      )
      .toContainEqual(expect.objectContaining({ title: "Supply agreement 2027", status: "completed" }));

    const { page, context } = await open(DESKTOP, "en-US");
    await page.goto(`${agent.base}/console`);
    await page.fill("#api-key", agent.devKey);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#scope", SOON);
    const supply = page.locator("tr", { hasText: "Supply agreement 2027" });
    await expect.poll(() => supply.textContent(), SOON).toContain("completed");
    await expect.poll(() => supply.textContent(), SOON).toContain("2 / 2");
    // An admin key lists every tenant's contracts, so each row names its tenant.
    const contractsTable = page.getByRole("table", { name: "Contracts" });
    expect(await contractsTable.getByRole("columnheader").allTextContents()).toEqual([
      "Title",
      "Tenant",
      "Status",
      "Signers",
      "Created",
      "Actions",
    ]);
    expect(await supply.getByRole("cell").nth(1).textContent()).toBe("dev");
    await supply.getByRole("button", { name: "Details" }).click();
    await expect.poll(() => page.locator("#content").textContent(), SOON).toContain("Hash chain verified");
    await expect.poll(() => page.locator("#content").textContent(), SOON).toContain("signed");
    await expectAccessible(page);
    await page.screenshot({ path: join(SCREENSHOTS, "console-contract-audit-desktop.png"), fullPage: true });

    // The NDA's webhook (contract.sent) reached the receiver; its details show the delivery.
    await expect
      .poll(
        async () =>
          (await api<{ deliveries: { eventType: string }[] }>("GET", `/v1/contracts/${nda.id}/deliveries`))
            .deliveries,
        SOON,
      )
      .toContainEqual(expect.objectContaining({ eventType: "contract.sent" }));
    const ndaRow = page.locator("tr", { hasText: "NDA draft" });
    await ndaRow.getByRole("button", { name: "Details" }).click();
    const ndaDeliveries = page.getByRole("table", { name: "Webhook deliveries" });
    await expect.poll(() => ndaDeliveries.textContent(), SOON).toContain("contract.sent #1");
    expect(await ndaDeliveries.textContent()).toContain(`${running.hooks.url}delivered 204`);
    await page.fill(`#void-reason-${nda.id}`, "sent by mistake");
    await page.getByRole("button", { name: "Void" }).click();
    await expect.poll(() => page.locator("#notice").textContent(), SOON).toBe(`Contract ${nda.id} voided.`);
    expect((await api<{ status: string }>("GET", `/v1/contracts/${nda.id}`)).status).toBe("voided");

    // The admin key voids another tenant's contract; the row names that tenant.
    const misdirectedRow = page.locator("tr", { hasText: "Misdirected offer" });
    expect(await misdirectedRow.getByRole("cell").nth(1).textContent()).toBe("other");
    await misdirectedRow.getByRole("button", { name: "Details" }).click();
    await page.fill(`#void-reason-${misdirected.id}`, "wrong tenant");
    await page.getByRole("button", { name: "Void" }).click();
    await expect
      .poll(() => page.locator("#notice").textContent(), SOON)
      .toBe(`Contract ${misdirected.id} voided.`);
    await context.close();

    // The tenant's own key: its contracts only, no tenant column, and the trail names the admin's key.
    const tenantConsole = await open(DESKTOP, "en-US");
    await tenantConsole.page.goto(`${agent.base}/console`);
    await tenantConsole.page.fill("#api-key", agent.otherKey);
    await tenantConsole.page.keyboard.press("Enter");
    const ownRow = tenantConsole.page.locator("tr", { hasText: "Misdirected offer" });
    await expect.poll(() => ownRow.textContent(), SOON).toContain("voided");
    expect(
      await tenantConsole.page
        .getByRole("table", { name: "Contracts" })
        .getByRole("columnheader")
        .allTextContents(),
    ).toEqual(["Title", "Status", "Signers", "Created", "Actions"]);
    expect(await tenantConsole.page.locator("tr", { hasText: "NDA draft" }).count()).toBe(0);
    await expectAccessible(tenantConsole.page);
    await tenantConsole.page.screenshot({
      path: join(SCREENSHOTS, "console-tenant-contracts-desktop.png"),
      fullPage: true,
    });
    await tenantConsole.context.close();
    const trail = await api<{ entries: { type: string; details?: unknown }[] }>(
      "GET",
      `/v1/contracts/${misdirected.id}/audit`,
      undefined,
      agent.otherKey,
    );
    expect(trail.entries.find((entry) => entry.type === "voided")?.details).toEqual({
      reason: "wrong tenant",
      by: { tenant: "dev", keyName: "dev", admin: true },
    });

    // Dave's link now says the contract is closed.
    const dave = await open(DESKTOP, "en-US");
    await dave.page.goto(nda.signers[0]!.url);
    await expect
      .poll(() => dave.page.locator("#message").textContent(), SOON)
      .toContain("This contract is closed");
    await expectAccessible(dave.page);

    // A draft's link works only once it is sent.
    const offer = await createContract(
      "Offer letter (draft)",
      [{ name: "Finn Example", email: "finn@example.test", order: 1, auth: { method: "email-otp" } }],
      { send: false },
    );
    await dave.page.goto(offer.signers[0]!.url);
    await expect
      .poll(() => dave.page.locator("#message").textContent(), SOON)
      .toContain("has not been sent yet");
    await dave.context.close();
    tokens.push(
      ...[lease, quote, nda, offer, misdirected].map((each) => each.signers[0]!.url.split("/s/")[1]!),
    );
  });

  it("starts in the language the contract names, whatever Accept-Language says, and still switches", async () => {
    const chinese = await createContract(
      "Lease renewal (zh-CN)",
      [
        {
          name: "Gina Example",
          email: "gina@example.test",
          order: 1,
          auth: { method: "access-code", code: "JADE-9" },
        },
      ],
      { language: "zh-CN" },
    );
    const gina = await open(DESKTOP, "en-US");
    await gina.page.goto(chinese.signers[0]!.url);
    const consent = gina.page.locator('label[for="consent"]');
    await expect.poll(() => consent.textContent(), SOON).toBe("我已阅读该文件，并同意以电子方式签署。");
    expect(await gina.page.getAttribute("html", "lang")).toBe("zh-CN");
    await gina.page.selectOption("#language", "en");
    await expect
      .poll(() => consent.textContent(), SOON)
      .toBe("I have read the document and agree to sign it electronically.");
    expect(await gina.page.getAttribute("html", "lang")).toBe("en");
    await gina.context.close();
    tokens.push(chinese.signers[0]!.url.split("/s/")[1]!);
  });

  it("never logs a signer's token, and the browser asked nothing of another origin", () => {
    expect(agent.output()).toContain("/s/[token]");
    for (const token of ["not-a-real-token", ...tokens]) expect(agent.output()).not.toContain(token);
    const foreign = requests.filter((url) => !url.startsWith(`${agent.base}/`) && !url.startsWith("data:"));
    expect(foreign).toEqual([]);
    expect(requests.length).toBeGreaterThan(10);
    expect(pageProblems).toEqual([]);
  });
});

/** A contract over the sample invoice, sealed B-LTA by the default profile (issue 13's API). */
async function createContract(
  title: string,
  signers: unknown[],
  {
    key = agent.devKey,
    ...options
  }: { send?: boolean; callback?: { url: string }; language?: string; key?: string } = {},
): Promise<{ id: string; signers: { email: string; url: string }[] }> {
  const form = await contractForm({
    title,
    signers,
    seal: { signer: "default", level: "B-LTA" },
    ...options,
  });
  const created = await fetch(`${agent.base}/v1/contracts`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: form,
  });
  expect(created.status, await created.clone().text()).toBe(201);
  return (await created.json()) as { id: string; signers: { email: string; url: string }[] };
}

function linkIn(mail: string): string {
  const link = new RegExp(`${agent.base}/s/[A-Za-z0-9_-]+`).exec(mail)?.[0];
  expect(link, mail).toBeDefined();
  return link!;
}

function otpIn(mail: string): string {
  const code = /one-time code to sign .* is (\d{6})/.exec(mail)?.[1];
  expect(code, mail).toBeDefined();
  return code!;
}

/** The OTP the simulator sent for a personal credential (its admin API, token from the banner). */
async function simulatorOtp(credentialId: string): Promise<string> {
  const response = await fetch(`${agent.simUrl}/admin/otp/${credentialId}`, {
    headers: { authorization: `Bearer ${agent.simAdminToken}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { otp: string }).otp;
}

/** PDF.js drew the first page: the canvas has ink (dark pixels), not just white. */
async function expectRenderedPdf(page: Page): Promise<void> {
  await page.waitForSelector("#pages[data-rendered]", { timeout: 30_000 });
  expect(Number(await page.getAttribute("#pages", "data-rendered"))).toBeGreaterThan(0);
  const { width, height, ink } = (await page.evaluate(`(() => {
    const canvas = document.querySelector("#pages canvas");
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] < 384) ink++;
    return { width: canvas.width, height: canvas.height, ink };
  })()`)) as { width: number; height: number; ink: number };
  expect(width * height).toBeGreaterThan(100_000);
  // Text and lines of an invoice: well over a thousand dark pixels, well under half the page.
  expect(ink).toBeGreaterThan(1000);
  expect(ink).toBeLessThan((width * height) / 2);
}

/** Downloads the signed PDF from the final page and checks it with validate.sh and the simulator's root. */
async function expectValidDownload(page: Page, name: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  const file = join(await mkdtemp(join(tmpdir(), "signer-page-")), name);
  await download.saveAs(file);
  const verdict = await validate(file, join(agent.dataDir, "esign-sim/root.pem"));
  expect(verdict.failures, verdict.output).toEqual([]);
  expect(verdict.ok, verdict.output).toBe(true);
  return file;
}

/**
 * The page highlights the box the signer API answers as this signer's placement, on the last
 * rendered page, in view, at the same place relative to the page; answers the placement.
 */
async function expectSignatureBox(
  page: Page,
  link: string,
): Promise<{ signerId: string; rect: [number, number, number, number] }> {
  const view = (await (await fetch(link.replace("/s/", "/v1/signing/"))).json()) as {
    signer: { id: string };
    placement: { page: string; rect: [number, number, number, number] };
  };
  expect(view.placement.page).toBe("last");
  const box = page.locator("#signature-box");
  await box.waitFor({ state: "visible", timeout: 30_000 });
  await expect.poll(() => box.isVisible(), SOON).toBe(true);
  const found = (await page.evaluate(`(() => {
    const box = document.querySelector("#signature-box");
    const frame = box.closest(".page");
    const canvas = frame.querySelector("canvas");
    const b = box.getBoundingClientRect();
    const c = canvas.getBoundingClientRect();
    return {
      page: Number(frame.dataset.page),
      pages: document.querySelectorAll("#pages canvas").length,
      left: (b.left - c.left) / c.width,
      right: (b.right - c.left) / c.width,
      top: (b.top - c.top) / c.height,
      bottom: (b.bottom - c.top) / c.height,
      inView: b.top >= 0 && b.bottom <= window.innerHeight,
      text: box.textContent,
    };
  })()`)) as Record<string, number | boolean | string>;
  expect(found.page).toBe(found.pages);
  expect(found.inView).toBe(true);
  expect(found.text).toBe("Your signature goes here");
  // The box's edges as fractions of the page, as the API places them in points.
  const [x1, y1, x2, y2] = view.placement.rect;
  const [width, height] = await lastPageSize(page);
  expect(found.left).toBeCloseTo(x1 / width, 2);
  expect(found.right).toBeCloseTo(x2 / width, 2);
  expect(found.top).toBeCloseTo((height - y2) / height, 2);
  expect(found.bottom).toBeCloseTo((height - y1) / height, 2);
  return { signerId: view.signer.id, rect: view.placement.rect };
}

/** The last page's size in points, from the PDF the page shows. */
async function lastPageSize(page: Page): Promise<[number, number]> {
  const response = await fetch(`${page.url().replace("/s/", "/v1/signing/")}/document`);
  const pdf = await PDFDocument.load(new Uint8Array(await response.arrayBuffer()), { updateMetadata: false });
  const last = pdf.getPage(pdf.getPageCount() - 1);
  return [last.getWidth(), last.getHeight()];
}

/** Draws a wave across the signature pad with the mouse, then checks the pad has ink and Clear wipes it. */
async function drawOnPad(page: Page): Promise<void> {
  const pad = page.locator("#signature-pad");
  await pad.scrollIntoViewIfNeeded();
  const box = (await pad.boundingBox())!;
  const wave = async () => {
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.6);
    await page.mouse.down();
    for (let step = 1; step <= 40; step++) {
      const x = box.x + box.width * (0.1 + (0.8 * step) / 40);
      const y = box.y + box.height * (0.5 + 0.25 * Math.sin(step / 3));
      await page.mouse.move(x, y);
    }
    await page.mouse.up();
  };
  await wave();
  expect(await padInk(page)).toBeGreaterThan(500);
  await page.click("#clear-signature");
  expect(await padInk(page)).toBe(0);
  await wave();
  expect(await padInk(page)).toBeGreaterThan(500);
}

/** Pixels of the signature pad with ink (not transparent). */
async function padInk(page: Page): Promise<number> {
  return (await page.evaluate(`(() => {
    const canvas = document.querySelector("#signature-pad");
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let ink = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
    return ink;
  })()`)) as number;
}

/** A signature field's widget in a signed PDF: its /Rect, and whether the last page holds it. */
async function signatureWidget(
  file: string,
  fieldName: string,
): Promise<{ lastPage: boolean; rect: number[] }> {
  const pdf = await PDFDocument.load(await readFile(file), { updateMetadata: false });
  const widget = pdf.getForm().getField(fieldName).acroField.getWidgets()[0]!;
  const { x, y, width, height } = widget.getRectangle();
  const last = pdf.getPage(pdf.getPageCount() - 1);
  const annots = last.node.Annots()?.asArray() ?? [];
  const lastPage = annots.some(
    (annot) => annot instanceof PDFRef && pdf.context.lookup(annot) === widget.dict,
  );
  return { lastPage, rect: [x, y, x + width, y + height].map((value) => Math.round(value * 100) / 100) };
}

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
  const { violations } = (await page.evaluate("axe.run()")) as { violations: AxeViolation[] };
  const found = violations.map(({ id, impact, help, nodes }) => ({
    id,
    impact,
    help,
    targets: nodes.map((node) => node.target.join(" ")),
  }));
  expect(found.filter((each) => each.impact === "serious" || each.impact === "critical")).toEqual([]);
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

async function api<T>(method: string, path: string, body?: unknown, key = agent.devKey): Promise<T> {
  const response = await fetch(`${agent.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}
