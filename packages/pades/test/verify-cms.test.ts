import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hash, verifyCms } from "../src";
import { createTestPki, issueCertificate } from "../src/testing";
import { signContent } from "./helpers";

describe("verifyCms", async () => {
  const pki = await createTestPki({ keyType: "p256", intermediate: true });
  const content = randomBytes(4096);
  const cms = signContent(pki.signer, content);
  const trustRoots = [pki.root.certificate];

  it("accepts the untouched content and chains to the root through the intermediate", async () => {
    const report = await verifyCms(cms, { content, trustRoots });
    expect(report).toMatchObject({
      valid: true,
      trusted: true,
      messageDigestMatches: true,
      signatureValid: true,
      signingCertificate: "v2",
      padesBaselineAttributes: true,
      digestAlgorithm: "sha256",
      signatureAlgorithm: "ecdsa-sha256",
      problems: [],
    });
    expect(report.chain.path.map((certificate) => certificate.subject)).toEqual([
      "CN=Test Signer, O=esign-agent tests, C=DE",
      "CN=esign test issuing CA, O=esign-agent tests",
      "CN=esign test root CA, O=esign-agent tests",
    ]);
    expect(report.signatureTimestamp).toBeUndefined();
  });

  it("detects one flipped byte in the content", async () => {
    const flipped = Buffer.from(content);
    flipped[2000]! ^= 0x20;
    const report = await verifyCms(cms, { content: flipped, trustRoots });
    expect(report.valid).toBe(false);
    expect(report.messageDigestMatches).toBe(false);
    expect(report.signatureValid).toBe(true);
  });

  it("detects a flipped byte in the signature value and works from a streamed digest", async () => {
    const broken = Buffer.from(cms);
    broken[broken.length - 10]! ^= 0x01;
    const report = await verifyCms(broken, {
      digestContent: async (algorithm) => hash(algorithm, content),
      trustRoots,
    });
    expect(report.messageDigestMatches).toBe(true);
    expect(report.signatureValid).toBe(false);
    expect(report.valid).toBe(false);
  });

  it("is valid but untrusted against another root, and untrusted once the certificate expired", async () => {
    const stranger = await issueCertificate({ subject: "CN=someone else's root", keyType: "p256", ca: true });
    const elsewhere = await verifyCms(cms, { content, trustRoots: [stranger.certificate] });
    expect(elsewhere).toMatchObject({ valid: true, trusted: false });
    expect(elsewhere.chain.problems.join()).toMatch(
      /CN=esign test root CA, O=esign-agent tests is a self-signed root that is not among the trust roots/,
    );

    const later = await verifyCms(cms, {
      content,
      trustRoots,
      validationTime: new Date(Date.now() + 20 * 365 * 86_400_000),
    });
    expect(later).toMatchObject({ valid: true, trusted: false });
    expect(later.chain.problems.join()).toMatch(/is not valid at/);
  });
});
