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
