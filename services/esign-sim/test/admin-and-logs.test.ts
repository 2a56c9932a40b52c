import { request } from "node:http";
import { Writable } from "node:stream";
import { createLogger } from "@esign/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../src/index";
import { cscClient, http, startWithTestPki } from "./helpers";

const ADMIN_TOKEN = "an-admin-token-for-tests";

describe("admin token and log redaction", () => {
  let simulator: Simulator;
  const logLines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    simulator = await startWithTestPki({
      adminToken: ADMIN_TOKEN,
      logger: createLogger({ name: "esign-sim", level: "trace" }, sink),
    });
  });
  afterAll(() => simulator.close());

  it("guards admin routes with the admin token when one is set", async () => {
    expect((await http(`${simulator.url}/admin/usage`)).status).toBe(401);
    const wrong = await http(`${simulator.url}/admin/usage`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const right = await http(`${simulator.url}/admin/usage`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(right.status).toBe(200);
  });

  it("refuses admin requests a web page could make: foreign Host or Origin, form bodies", async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    // fetch will not send a Host of our choosing; node:http will.
    const withHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(`${simulator.url}/admin/usage`);
        request(
          { host: url.hostname, port: url.port, path: url.pathname, headers: { ...auth, host } },
          (answer) => {
            answer.resume();
            resolve(answer.statusCode ?? 0);
          },
        )
          .on("error", reject)
          .end();
      });
    expect(await withHost("evil.example:80")).toBe(403);
    expect(await withHost(`localhost:${simulator.port}`)).toBe(200);
    const reset = `${simulator.url}/admin/usage/reset`;
    const fromSite = await http(reset, {
      method: "POST",
      headers: { ...auth, origin: "https://evil.example" },
    });
    expect(fromSite.status).toBe(403);
    expect((await http(reset, { method: "POST", headers: { ...auth, origin: simulator.url } })).status).toBe(
      204,
    );
    for (const contentType of [
      "application/x-www-form-urlencoded",
      "text/plain",
      "multipart/form-data; boundary=x",
    ]) {
      const form = await http(reset, {
        method: "POST",
        body: Buffer.from("a=b"),
        headers: { ...auth, "content-type": contentType },
      });
      expect(form.status, contentType).toBe(415);
    }
    expect((await http(reset, { method: "POST", json: {}, headers: auth })).status).toBe(204);
  });

  it("keeps secrets out of the logs and out of the request log", async () => {
    const csc = await cscClient(simulator);
    expect((await csc("credentials/sendOTP", { credentialID: "alice-rsa" })).status).toBe(204);
    const otp = simulator.currentOtp("alice-rsa")!;
    const hash = Buffer.alloc(32, 7).toString("base64");
    const authorized = await csc("credentials/authorize", {
      credentialID: "alice-rsa",
      numSignatures: 1,
      hashes: [hash],
      hashAlgorithmOID: "2.16.840.1.101.3.4.2.1",
      authData: [
        { id: "PIN", value: "1234" },
        { id: "OTP", value: otp },
      ],
    });
    expect(authorized.status).toBe(200);
    const { SAD } = authorized.json();
    const cms = await http(`${simulator.url}/esign/v1/sign`, {
      json: { credentialId: "seal-rsa", digest: hash, digestAlgorithm: "sha256", level: "B-B" },
      headers: { "x-api-key": "demo-key" },
    });
    expect(cms.status).toBe(200);

    const logs = logLines.join("");
    expect(logs).toContain("/csc/v2/credentials/authorize");
    const recorded = JSON.stringify(simulator.requests());
    for (const secret of ["demo-secret", "demo-key", SAD, otp]) {
      expect(logs).not.toContain(secret);
      expect(recorded).not.toContain(secret);
    }
    // The PIN "1234" is too short to search for in logs; the request log shows it redacted.
    const authorizeEntry = simulator
      .requests()
      .find((entry) => entry.path === "/csc/v2/credentials/authorize")!;
    expect(authorizeEntry.fields!.authData).toEqual([
      { id: "PIN", value: "[redacted]" },
      { id: "OTP", value: "[redacted]" },
    ]);
  });
});
