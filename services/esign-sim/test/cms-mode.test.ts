import { createHash, randomBytes } from "node:crypto";
import { parseCms } from "@esign/pades";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../src/index";
import { http, openssl, opensslCmsVerify, scratch, startWithTestPki } from "./helpers";

const SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14";
const SIGNING_TIME = "1.2.840.113549.1.9.5";

describe("CMS mode (POST /esign/v1/sign)", () => {
  let simulator: Simulator;
  const files = scratch();
  let root: string;
  let chain: string;
  // A "document" far larger than any digest request: the request log proves it never travels.
  const document = randomBytes(256 * 1024);
  let documentPath: string;
  const digest = createHash("sha256").update(document).digest("base64");

  beforeAll(async () => {
    simulator = await startWithTestPki();
    root = files.file("root.pem", simulator.rootPem);
    chain = files.file("chain.pem", simulator.chainPem);
    documentPath = files.file("document.bin", document);
  });
  afterAll(async () => {
    await simulator.close();
    files.remove();
  });

  const sign = (
    body: Record<string, unknown>,
    headers: Record<string, string> = { "x-api-key": "demo-key" },
  ) => http(`${simulator.url}/esign/v1/sign`, { json: body, headers });

  const verifyCms = (cmsBase64: string, name: string) =>
    opensslCmsVerify(files.file(name, Buffer.from(cmsBase64, "base64")), documentPath, root);

  it.each(["seal-rsa", "seal-ec"])(
    "returns a B-B CMS that openssl cms -verify accepts (%s)",
    async (credentialId) => {
      const answer = await sign({ credentialId, digest, digestAlgorithm: "sha256", level: "B-B" });
      expect(answer.status).toBe(200);
      const { cms, ltv } = answer.json();
      expect(ltv).toBeUndefined();
      const verified = await verifyCms(cms, `${credentialId}.der`);
      expect(verified.stderr).toContain("Verification successful");

      const signer = parseCms(Buffer.from(cms, "base64")).signerInfos[0]!;
      expect(signer.signedAttributes.map((attribute) => attribute.type)).not.toContain(SIGNING_TIME);
      expect(signer.unsignedAttributes).toHaveLength(0);
    },
  );

  it("fails openssl verification against content other than the digested one", async () => {
    const { cms } = (
      await sign(
        { credentialId: "seal-rsa", digest, digestAlgorithm: "sha256", level: "B-B" },
        {
          authorization: "Bearer demo-key",
        },
      )
    ).json();
    const other = files.file("other.bin", "not the document");
    const verified = await opensslCmsVerify(
      files.file("mismatch.der", Buffer.from(cms, "base64")),
      other,
      root,
    );
    expect(verified.status).not.toBe(0);
    expect(verified.stderr).toContain("CMS Verification failure");
    expect(verified.stderr).toMatch(/CMS_SignerInfo_verify_content/);
  });

  it("adds a signature time-stamp over the signature value for B-T", async () => {
    const { cms } = (
      await sign({ credentialId: "seal-rsa", digest, digestAlgorithm: "sha256", level: "B-T" })
    ).json();
    expect((await verifyCms(cms, "bt.der")).stderr).toContain("Verification successful");
    const signer = parseCms(Buffer.from(cms, "base64")).signerInfos[0]!;
    const timeStamp = signer.unsignedAttributes.find((attribute) => attribute.type === SIGNATURE_TIME_STAMP);
    expect(timeStamp?.values).toHaveLength(1);
    const token = files.file("bt.tst", timeStamp!.values[0]!);
    const signatureValue = files.file("bt.sig", signer.signature);
    const verified = await openssl([
      "ts",
      "-verify",
      "-token_in",
      "-in",
      token,
      "-data",
      signatureValue,
      "-CAfile",
      chain,
    ]);
    expect(verified.stdout).toContain("Verification: OK");
  });

  it("returns validation data for B-LT: chains and good OCSP answers openssl verifies, and CRLs", async () => {
    const answer = await sign({ credentialId: "seal-ec", digest, digestAlgorithm: "sha256", level: "B-LT" });
    const { cms, ltv } = answer.json();
    expect((await verifyCms(cms, "blt.der")).stderr).toContain("Verification successful");
    expect(ltv.certs).toHaveLength(5);
    expect(ltv.ocsps).toHaveLength(3);
    for (const [index, ocsp] of (ltv.ocsps as string[]).entries()) {
      const response = files.file(`ocsp-${index}.der`, Buffer.from(ocsp, "base64"));
      const checked = await openssl(["ocsp", "-respin", response, "-CAfile", chain, "-resp_text"]);
      expect(checked.stderr).toContain("Response verify OK");
      expect(checked.stdout).toContain("Cert Status: good");
    }
    for (const [index, crl] of (ltv.crls as string[]).entries()) {
      const path = files.file(`crl-${index}.der`, Buffer.from(crl, "base64"));
      expect(
        (await openssl(["crl", "-inform", "DER", "-in", path, "-noout", "-CAfile", chain])).stderr,
      ).toContain("verify OK");
    }
  });

  it("receives only the digest request fields, never document bytes", async () => {
    const requests = (await http(`${simulator.url}/admin/requests`)).json();
    const signCalls = requests.filter((entry: { path: string }) => entry.path === "/esign/v1/sign");
    expect(signCalls.length).toBeGreaterThanOrEqual(5);
    for (const entry of signCalls) {
      expect(Object.keys(entry.fields).sort()).toEqual([
        "credentialId",
        "digest",
        "digestAlgorithm",
        "level",
      ]);
      expect(entry.fields.digest).toBe(digest);
      expect(entry.bodyBytes).toBeLessThan(200);
      expect(entry.client).toBe("demo");
    }
  });

  it("refuses requests that carry anything beyond the digest, or no valid API key", async () => {
    const withDocument = await sign({
      credentialId: "seal-rsa",
      digest,
      digestAlgorithm: "sha256",
      level: "B-B",
      document: document.subarray(0, 64).toString("base64"),
    });
    expect(withDocument.status).toBe(400);
    expect(withDocument.json().error).toBe("invalid_request");

    const wrongLength = await sign({
      credentialId: "seal-rsa",
      digest: "AAAA",
      digestAlgorithm: "sha256",
      level: "B-B",
    });
    expect(wrongLength.status).toBe(400);

    const noKey = await sign(
      { credentialId: "seal-rsa", digest, digestAlgorithm: "sha256", level: "B-B" },
      {},
    );
    expect(noKey.status).toBe(401);
    const badKey = await sign(
      { credentialId: "seal-rsa", digest, digestAlgorithm: "sha256", level: "B-B" },
      {
        "x-api-key": "nope",
      },
    );
    expect(badKey.status).toBe(401);
    expect(badKey.json().error).toBe("invalid_token");

    const explicit = await sign({
      credentialId: "alice-rsa",
      digest,
      digestAlgorithm: "sha256",
      level: "B-B",
    });
    expect(explicit.status).toBe(400);
  });

  it("bills every successful CMS sign call and nothing else", async () => {
    const usage = simulator.usage();
    // it.each (2) + mismatch + B-T + B-LT succeeded; the refused calls are not billed.
    expect(usage.signCalls).toBe(5);
    expect(usage.signatures).toBe(5);
    expect(usage.clients.demo!.signCalls).toBe(5);
  });
});
