import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../src/index";
import { http, openssl, scratch, startWithTestPki } from "./helpers";

/** The relying-party services (TSA, OCSP, CRL, CA certificates), judged by openssl over real HTTP. */
describe("time-stamps, OCSP and CRLs", () => {
  let simulator: Simulator;
  const files = scratch();
  let chain: string;
  let issuing: string;

  beforeAll(async () => {
    simulator = await startWithTestPki();
    chain = files.file("chain.pem", (await http(`${simulator.url}/pki/chain.pem`)).body);
    issuing = files.file("issuing.pem", simulator.pki.issuing.certificate.toString("pem"));
  });
  afterAll(async () => {
    await simulator.close();
    files.remove();
  });

  const leaf = (credentialId: string) =>
    files.file(
      `${credentialId}.pem`,
      simulator.pki.credentials.get(credentialId)!.certificate.toString("pem"),
    );

  async function postTsa(queryPath: string, replyName: string): Promise<string> {
    const reply = await http(`${simulator.url}/tsa`, {
      body: readFileSync(queryPath),
      headers: { "content-type": "application/timestamp-query" },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toBe("application/timestamp-reply");
    return files.file(replyName, reply.body);
  }

  it("issues time-stamp tokens that openssl ts -verify accepts, with the nonce echoed", async () => {
    const data = files.file("data.bin", "some data to time-stamp");
    const query = files.file("q.tsq", "");
    expect((await openssl(["ts", "-query", "-data", data, "-sha256", "-cert", "-out", query])).status).toBe(
      0,
    );
    const reply = await postTsa(query, "r.tsr");

    const verified = await openssl(["ts", "-verify", "-queryfile", query, "-in", reply, "-CAfile", chain]);
    expect(verified.stdout + verified.stderr).toContain("Verification: OK");
    const againstData = await openssl(["ts", "-verify", "-data", data, "-in", reply, "-CAfile", chain]);
    expect(againstData.stdout).toContain("Verification: OK");

    const queryText = (await openssl(["ts", "-query", "-in", query, "-text"])).stdout;
    const replyText = (await openssl(["ts", "-reply", "-in", reply, "-text"])).stdout;
    const nonce = /Nonce: (\S+)/.exec(queryText)![1];
    expect(replyText).toContain(`Nonce: ${nonce}`);
    expect(replyText).toContain("Policy OID: 2.999.1.3161");
    expect(replyText).toMatch(/Accuracy: 0x01 seconds/);
  });

  it("gives every token its own serial number and leaves certificates out without certReq", async () => {
    const data = files.file("data2.bin", "more data");
    const query = files.file("nocert.tsq", "");
    await openssl(["ts", "-query", "-data", data, "-sha256", "-no_nonce", "-out", query]);
    const serials = new Set<string>();
    for (const name of ["a.tsr", "b.tsr", "c.tsr"]) {
      const text = (await openssl(["ts", "-reply", "-in", await postTsa(query, name), "-text"])).stdout;
      serials.add(/Serial number: (\S+)/.exec(text)![1]!);
    }
    expect(serials.size).toBe(3);
    // Without certReq the TSA certificate is absent, so verification needs it supplied separately.
    const verifyReply = (...extra: string[]) =>
      openssl([
        "ts",
        "-verify",
        "-queryfile",
        query,
        "-in",
        `${files.dir}/a.tsr`,
        "-CAfile",
        chain,
        ...extra,
      ]);
    expect((await verifyReply()).stdout).not.toContain("Verification: OK");
    const tsaCert = files.file("tsa.pem", simulator.pki.tsa.certificate.toString("pem"));
    const withCert = await verifyReply("-untrusted", tsaCert);
    expect(withCert.stdout).toContain("Verification: OK");
  });

  it("rejects a malformed time-stamp query with a rejection status, not a transport error", async () => {
    const reply = await postTsa(files.file("garbage.tsq", "not a request"), "garbage.tsr");
    const text = (await openssl(["ts", "-reply", "-in", reply, "-text"])).stdout;
    expect(text).toContain("Status: Rejected");
    expect(text).toContain("wrong format");
  });

  it("answers OCSP good, then revoked after an admin revocation, as openssl ocsp checks them", async () => {
    const sealCert = leaf("seal-rsa");
    const ask = () =>
      openssl([
        "ocsp",
        "-issuer",
        issuing,
        "-cert",
        sealCert,
        "-url",
        `${simulator.url}/ocsp`,
        "-CAfile",
        chain,
      ]);
    const good = await ask();
    expect(good.stderr).toContain("Response verify OK");
    expect(good.stdout).toContain(`${sealCert}: good`);

    const revoke = await http(`${simulator.url}/admin/credentials/seal-rsa/revoke`, {
      json: { reason: "keyCompromise" },
    });
    expect(revoke.status).toBe(200);
    const revoked = await ask();
    expect(revoked.stderr).toContain("Response verify OK");
    expect(revoked.stdout).toContain(`${sealCert}: revoked`);
    expect(revoked.stdout).toContain("Reason: keyCompromise");
  });

  it("answers unknown for a serial the issuing CA never issued", async () => {
    const unknown = await openssl([
      "ocsp",
      "-issuer",
      issuing,
      "-serial",
      "0x1234567890",
      "-url",
      `${simulator.url}/ocsp`,
      "-CAfile",
      chain,
    ]);
    expect(unknown.stderr).toContain("Response verify OK");
    expect(unknown.stdout).toContain("0x1234567890: unknown");
  });

  it("lists a revoked serial in the issuing CA's CRL", async () => {
    await simulator.revokeCredential("seal-ec", "superseded");
    const answer = await http(`${simulator.url}/crl/issuing.crl`);
    expect(answer.headers.get("content-type")).toBe("application/pkix-crl");
    const crl = files.file("issuing.crl", answer.body);
    const text = await openssl(["crl", "-inform", "DER", "-in", crl, "-noout", "-text", "-CAfile", chain]);
    expect(text.stderr).toContain("verify OK");
    const serial = simulator.pki.credentials.get("seal-ec")!.certificate.serialNumber.toUpperCase();
    expect(text.stdout).toContain(`Serial Number: ${serial}`);
    expect(text.stdout).toContain("Superseded");

    const root = files.file("root.crl", (await http(`${simulator.url}/crl/root.crl`)).body);
    const rootText = await openssl([
      "crl",
      "-inform",
      "DER",
      "-in",
      root,
      "-noout",
      "-text",
      "-CAfile",
      chain,
    ]);
    expect(rootText.stderr).toContain("verify OK");
    expect(rootText.stdout).toContain("No Revoked Certificates");
  });

  it("answers the GET form of OCSP and the issuing CA's own status (root-signed)", async () => {
    const rootPem = files.file("root.pem", (await http(`${simulator.url}/pki/root.pem`)).body);
    const request = files.file("issuing.req", "");
    await openssl(["ocsp", "-issuer", rootPem, "-cert", issuing, "-no_nonce", "-reqout", request]);
    const encoded = encodeURIComponent(readFileSync(request).toString("base64"));
    const answer = await http(`${simulator.url}/ocsp/${encoded}`);
    expect(answer.headers.get("content-type")).toBe("application/ocsp-response");
    const response = files.file("issuing.resp", answer.body);
    const checked = await openssl([
      "ocsp",
      "-reqin",
      request,
      "-respin",
      response,
      "-CAfile",
      rootPem,
      "-resp_text",
    ]);
    expect(checked.stderr).toContain("Response verify OK");
    expect(checked.stdout).toContain("Cert Status: good");
  });

  it("serves the CA certificates the AIA caIssuers URLs name, in DER", async () => {
    const root = await http(`${simulator.url}/pki/root.cer`);
    const issuingCa = await http(`${simulator.url}/pki/issuing.cer`);
    expect(root.headers.get("content-type")).toBe("application/pkix-cert");
    expect(new X509Certificate(root.body).subject).toContain("esign-sim Root CA");
    expect(new X509Certificate(issuingCa.body).checkIssued(new X509Certificate(root.body))).toBe(true);
  });

  it("counts TSA and OCSP calls in the usage report", async () => {
    const usage = (await http(`${simulator.url}/admin/usage`)).json();
    expect(usage.tsaCalls).toBe(5);
    expect(usage.ocspCalls).toBe(4);
    expect(usage.clients.anonymous.tsaCalls).toBe(usage.tsaCalls);
  });
});
