import { createHash, verify, X509Certificate } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Simulator } from "../src/index";
import { cscClient, http, opensslCmsVerify, scratch, startWithTestPki } from "./helpers";

const document = Buffer.from("fault injection document");
const hash = createHash("sha256").update(document).digest("base64");
const signHashBody = { credentialID: "seal-rsa", hashes: [hash], signAlgo: "1.2.840.113549.1.1.11" };

describe("fault injection", () => {
  let simulator: Simulator;
  let csc: Awaited<ReturnType<typeof cscClient>>;
  const files = scratch();

  const putFaults = (faults: unknown) =>
    http(`${simulator.url}/admin/faults`, { method: "PUT", json: faults });
  const signHash = () => csc("signatures/signHash", signHashBody);

  beforeAll(async () => {
    // Faults set at start: every OCSP call fails until the first test clears them.
    simulator = await startWithTestPki({ faults: { routes: ["ocsp"], errorRate: 1, errorStatus: 500 } });
    csc = await cscClient(simulator);
  });
  afterAll(async () => {
    await simulator.close();
    files.remove();
  });

  it("applies faults given at start, scoped to their routes", async () => {
    const ocsp = await http(`${simulator.url}/ocsp`, {
      body: Buffer.from([0x30, 0x00]),
      headers: { "content-type": "application/ocsp-request" },
    });
    expect(ocsp.status).toBe(500);
    expect(ocsp.json().error).toBe("server_error");
    expect((await signHash()).status).toBe(200);
  });

  describe("set through the admin API", () => {
    beforeEach(async () => {
      expect((await http(`${simulator.url}/admin/faults`, { method: "DELETE" })).status).toBe(204);
    });

    it("answers a share of sign calls with 503 + Retry-After (errorRate), other routes untouched", async () => {
      expect((await putFaults({ errorRate: 1 })).status).toBe(200);
      const answer = await signHash();
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("1");
      expect(answer.json().error).toBe("temporarily_unavailable");
      expect((await csc("credentials/info", { credentialID: "seal-rsa" })).status).toBe(200);
      // The CMS sign call is a sign route too.
      const cms = await http(`${simulator.url}/esign/v1/sign`, {
        json: { credentialId: "seal-rsa", digest: hash, digestAlgorithm: "sha256", level: "B-B" },
        headers: { "x-api-key": "demo-key" },
      });
      expect(cms.status).toBe(503);
      expect(simulator.usage().signCalls).toBe(1);
    });

    it("answers the next N calls 429 with the configured Retry-After (rateLimitBurst), then recovers", async () => {
      await putFaults({ rateLimitBurst: { count: 2, retryAfterSeconds: 7 } });
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = await signHash();
        expect(answer.status).toBe(429);
        expect(answer.headers.get("retry-after")).toBe("7");
      }
      expect((await signHash()).status).toBe(200);
      expect((await http(`${simulator.url}/admin/faults`)).json().rateLimitBurstRemaining).toBe(0);
    });

    it("delays answers by the configured latency", async () => {
      await putFaults({ latencyMs: 400 });
      const started = performance.now();
      expect((await signHash()).status).toBe(200);
      // A lower bound only: the fault must have waited at least this long; no upper bound is asserted.
      expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    });

    it("never answers a hanging call; the client's timeout ends it and the service stays healthy", async () => {
      await putFaults({ hangRate: 1 });
      const hung = http(`${simulator.url}/csc/v2/signatures/signHash`, {
        json: signHashBody,
        headers: { authorization: "Bearer whatever" },
        signal: AbortSignal.timeout(500),
      });
      await expect(hung).rejects.toThrow(/aborted|timeout/i);
      const logged = simulator.requests().filter((entry) => entry.path === "/csc/v2/signatures/signHash");
      expect(logged.at(-1)!.status).toBeNull();
      expect((await http(`${simulator.url}/healthz`)).status).toBe(200);
    });

    it("cuts answer bodies in half (malformedRate)", async () => {
      await putFaults({ malformedRate: 1, routes: ["csc"] });
      const answer = await csc("credentials/list", {});
      expect(answer.status).toBe(200);
      expect(() => answer.json()).toThrow(SyntaxError);
    });

    it("returns well-formed signatures over a different digest (wrongSignatureRate)", async () => {
      await putFaults({ wrongSignatureRate: 1 });
      const info = (
        await csc("credentials/info", { credentialID: "seal-rsa", certificates: "single" })
      ).json();
      const certificate = new X509Certificate(Buffer.from(info.cert.certificates[0], "base64"));
      const answer = await signHash();
      expect(answer.status).toBe(200);
      const signature = Buffer.from(answer.json().signatures[0], "base64");
      expect(signature).toHaveLength(256);
      expect(verify("sha256", document, certificate.publicKey, signature)).toBe(false);

      const cms = await http(`${simulator.url}/esign/v1/sign`, {
        json: { credentialId: "seal-rsa", digest: hash, digestAlgorithm: "sha256", level: "B-B" },
        headers: { "x-api-key": "demo-key" },
      });
      const verified = await opensslCmsVerify(
        files.file("wrong.der", Buffer.from(cms.json().cms, "base64")),
        files.file("document.bin", document),
        files.file("root.pem", simulator.rootPem),
      );
      expect(verified.status).not.toBe(0);
    });

    it("scopes faults to other route groups on request", async () => {
      await putFaults({ routes: ["tsa"], errorRate: 1 });
      const tsa = await http(`${simulator.url}/tsa`, {
        body: Buffer.from([0x30, 0x00]),
        headers: { "content-type": "application/timestamp-query" },
      });
      expect(tsa.status).toBe(503);
      expect((await signHash()).status).toBe(200);
    });

    it("refuses an invalid fault configuration and keeps the previous one", async () => {
      await putFaults({ errorRate: 1 });
      const invalid = await putFaults({ errorRate: 2, surprise: true });
      expect(invalid.status).toBe(400);
      expect(invalid.json().error).toBe("invalid_request");
      expect((await http(`${simulator.url}/admin/faults`)).json().errorRate).toBe(1);
    });
  });
});
