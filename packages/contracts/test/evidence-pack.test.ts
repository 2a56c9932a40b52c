import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStore } from "@esign/storage";
import { run } from "@esign/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditTrail, buildEvidencePack, type EvidenceManifest, renderCompletionCertificate } from "../src";

let dir: string;
const redis = new Redis({ host: "127.0.0.1", port: 6379 });
const keyPrefix = `test-evidence-${randomUUID()}`;
const contractId = randomUUID();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "esign-evidence-"));
});
afterAll(async () => {
  await redis.del(`${keyPrefix}:audit:${contractId}:head`, `${keyPrefix}:audit:${contractId}:pending`);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("buildEvidencePack", () => {
  it("zips the signed PDF, report, audit trail and certificate with a manifest of their SHA-256", async () => {
    const store = new LocalStore("default", { type: "local", root: join(dir, "store") });
    const trail = new AuditTrail({
      redis,
      keyPrefix,
      store,
      folderOf: (id) => ({ store: "default", key: `c/${id}` }),
    });
    await trail.append(contractId, { type: "created" });
    await trail.append(contractId, { type: "signed", signerId: "s1", details: { digest: "ab".repeat(32) } });
    const audit = await trail.read(contractId);
    const verification = await trail.verify(contractId);

    const signedPdf = await readFile(join(import.meta.dirname, "../../pdf/test/fixtures/mupdf-clean.pdf"));
    const certificatePdf = await renderCompletionCertificate({
      contractId,
      title: "租赁合同 Lease",
      tenant: "acme",
      createdAt: audit[0]!.at,
      completedAt: audit[1]!.at,
      status: "completed",
      originalSha256: "a".repeat(64),
      finalSha256: sha256(signedPdf),
      signers: [
        {
          name: "李娜",
          email: "li.na@example.cn",
          method: "email-otp",
          status: "signed",
          digest: "ab".repeat(32),
        },
      ],
      auditHead: { entries: verification.entries, hash: verification.head },
    });
    const validationReport = { valid: true, signatures: [{ field: "Signature1", valid: true }] };

    const zip = await buildEvidencePack({ signedPdf, validationReport, audit, certificatePdf });
    const path = join(dir, "evidence.zip");
    await writeFile(path, zip);

    const { stdout: tested } = await run("unzip", ["-t", path]);
    expect(tested).toContain("No errors detected");
    const { stdout: listing } = await run("unzip", ["-Z1", path]);
    expect(listing.trim().split("\n").sort()).toEqual(
      ["audit.json", "certificate.pdf", "manifest.json", "signed.pdf", "validation-report.json"].sort(),
    );

    const extracted = join(dir, "unzipped");
    await run("unzip", ["-q", path, "-d", extracted]);
    const manifest = JSON.parse(await readFile(join(extracted, "manifest.json"), "utf8")) as EvidenceManifest;
    expect(manifest.format).toBe("esign-evidence-pack/1");
    expect(manifest.contractId).toBe(contractId);
    expect(manifest.files.map((file) => file.name).sort()).toEqual(
      ["audit.json", "certificate.pdf", "signed.pdf", "validation-report.json"].sort(),
    );
    for (const file of manifest.files) {
      const bytes = await readFile(join(extracted, file.name));
      expect(file.sha256).toBe(sha256(bytes));
      expect(file.size).toBe(bytes.length);
    }
    // The contents are the inputs, byte for byte and value for value.
    expect(sha256(await readFile(join(extracted, "signed.pdf")))).toBe(sha256(signedPdf));
    expect(sha256(await readFile(join(extracted, "certificate.pdf")))).toBe(sha256(certificatePdf));
    expect(JSON.parse(await readFile(join(extracted, "audit.json"), "utf8"))).toEqual(audit);
    expect(JSON.parse(await readFile(join(extracted, "validation-report.json"), "utf8"))).toEqual(
      validationReport,
    );
  });
});
