import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompletionSummary, renderCompletionCertificate } from "../src";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "esign-certificate-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const hex = (char: string) => char.repeat(64);

function summaryWith(overrides: Partial<CompletionSummary> = {}): CompletionSummary {
  return {
    contractId: "c-7f3a9e",
    title: "劳动合同 Employment agreement 2026",
    tenant: "acme",
    createdAt: "2026-12-05T09:00:00.000Z",
    completedAt: "2026-12-05T10:30:15.000Z",
    status: "completed",
    originalSha256: hex("a"),
    finalSha256: "3f9c1d0e5b7a2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d",
    signers: [
      {
        name: "Alice Example",
        email: "alice@example.com",
        method: "esign-api",
        status: "signed",
        signedAt: "2026-12-05T09:10:00.000Z",
        ip: "198.51.100.7",
        userAgent:
          "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        certificateSubject: "CN=Alice Example, O=Simulated Signers, C=CN",
        digest: hex("b"),
      },
      {
        name: "张伟",
        email: "zhang.wei@example.cn",
        method: "email-otp",
        status: "signed",
        signedAt: "2026-12-05T10:30:00.000Z",
        ip: "2001:db8::1",
        userAgent: "curl/8.5",
        digest: hex("c"),
      },
    ],
    auditHead: { entries: 17, hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    ...overrides,
  };
}

async function extract(pdf: Uint8Array, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, pdf);
  const { stdout: check } = await run("qpdf", ["--check", path]);
  expect(check).toContain("No syntax or stream encoding errors found");
  const { stdout } = await run("pdftotext", ["-enc", "UTF-8", "-layout", path, "-"]);
  return stdout;
}

describe("renderCompletionCertificate", () => {
  it("shows the document, every signer (CJK and Latin) with digests, and the audit head; qpdf --check passes", async () => {
    const summary = summaryWith();
    const pdf = await renderCompletionCertificate(summary);
    expect(Buffer.from(pdf.subarray(0, 8)).toString("latin1")).toBe("%PDF-1.7");
    const text = await extract(pdf, "two-signers.pdf");
    for (const expected of [
      "Certificate of Completion",
      "签署完成证书",
      "劳动合同 Employment agreement 2026",
      "c-7f3a9e",
      "acme",
      "2026-12-05 10:30:15 UTC",
      summary.originalSha256,
      summary.finalSha256!,
      "Alice Example <alice@example.com>",
      "张伟 <zhang.wei@example.cn>",
      "CN=Alice Example, O=Simulated Signers, C=CN",
      "198.51.100.7",
      "2001:db8::1",
      "email-otp",
      hex("b"),
      hex("c"),
      "17",
      summary.auditHead.hash,
      "page 1 of 1",
    ]) {
      expect(text).toContain(expected);
    }
    // Long values are wrapped at spaces, not cut: every word of the user agent is there.
    for (const word of summary.signers[0]!.userAgent!.split(" ")) expect(text).toContain(word);
    expect((await run("pdfinfo", [join(dir, "two-signers.pdf")])).stdout).toMatch(
      /Title:\s+Certificate of completion: 劳动合同/,
    );
  });

  it("runs onto more pages when there are many signers", async () => {
    const signers = Array.from({ length: 30 }, (_, index) => ({
      name: `签署人 ${index + 1} Signer`,
      email: `signer${index + 1}@example.com`,
      method: "sms-otp",
      status: "signed",
      signedAt: "2026-12-05T10:00:00.000Z",
      ip: "203.0.113.9",
      digest: (index + 1).toString(16).padStart(64, "0"),
    }));
    const pdf = await renderCompletionCertificate(summaryWith({ signers }));
    const text = await extract(pdf, "many-signers.pdf");
    const pages = Number(
      /Pages:\s+(\d+)/.exec((await run("pdfinfo", [join(dir, "many-signers.pdf")])).stdout)![1],
    );
    expect(pages).toBeGreaterThan(1);
    expect(text).toContain(`page ${pages} of ${pages}`);
    for (const signer of signers) {
      expect(text).toContain(`${signer.name} <${signer.email}>`);
      expect(text).toContain(signer.digest);
    }
  });

  it("draws a character the font lacks as '?' instead of failing", async () => {
    const pdf = await renderCompletionCertificate(
      summaryWith({
        title: "Offer letter 🎉 final",
        status: "in_progress",
        completedAt: undefined,
        finalSha256: undefined,
      }),
    );
    const text = await extract(pdf, "emoji.pdf");
    expect(text).toContain("Offer letter ? final");
    expect(text).toContain("in_progress");
    expect(text).not.toContain("Final SHA-256");
  });
});
