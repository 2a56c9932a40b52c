import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../src/index";
import { cscClient, http, startWithTestPki } from "./helpers";

const hash = createHash("sha256").update("quota test").digest("base64");
const signHashBody = { credentialID: "seal-rsa", hashes: [hash, hash], signAlgo: "1.2.840.113549.1.1.11" };

describe("quotas, rate limits and usage", () => {
  let simulator: Simulator;

  beforeAll(async () => {
    simulator = await startWithTestPki({
      clients: [
        { id: "demo", secret: "demo-secret", apiKeys: ["demo-key"] },
        { id: "limited", secret: "limited-secret", apiKeys: [], callsPerSecond: 3 },
        { id: "budget", secret: "budget-secret", apiKeys: ["budget-key"], signCallBudget: 2 },
      ],
    });
  });
  afterAll(() => simulator.close());

  it("counts every concurrent billed call and signature, in exactly the documented shape", async () => {
    const csc = await cscClient(simulator);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => csc("signatures/signHash", signHashBody)),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const cms = await http(`${simulator.url}/esign/v1/sign`, {
      json: { credentialId: "seal-ec", digest: hash, digestAlgorithm: "sha256", level: "B-B" },
      headers: { "x-api-key": "demo-key" },
    });
    expect(cms.status).toBe(200);
    // Refused calls are not billed.
    expect((await csc("signatures/signHash", { ...signHashBody, credentialID: "nobody" })).status).toBe(400);

    const usage = (await http(`${simulator.url}/admin/usage`)).json();
    expect(Object.keys(usage).sort()).toEqual(
      [
        "clients",
        "maxSignCallsInOneSecond",
        "ocspCalls",
        "replays",
        "signCalls",
        "signatures",
        "tsaCalls",
      ].sort(),
    );
    expect(usage.clients.demo).toEqual({
      signCalls: 21,
      signatures: 41,
      replays: 0,
      tsaCalls: 0,
      ocspCalls: 0,
      maxSignCallsInOneSecond: usage.clients.demo.maxSignCallsInOneSecond,
    });
    expect(usage.signCalls).toBe(21);
    expect(usage.maxSignCallsInOneSecond).toBeGreaterThanOrEqual(1);
    expect(usage.maxSignCallsInOneSecond).toBeLessThanOrEqual(21);

    expect((await http(`${simulator.url}/admin/usage/reset`, { method: "POST" })).status).toBe(204);
    expect((await http(`${simulator.url}/admin/usage`)).json()).toEqual({
      signCalls: 0,
      signatures: 0,
      replays: 0,
      tsaCalls: 0,
      ocspCalls: 0,
      maxSignCallsInOneSecond: 0,
      clients: {},
    });
  });

  it("answers calls beyond the per-second limit with 429 and Retry-After, and never accepts more per second", async () => {
    const csc = await cscClient(simulator, "limited", "limited-secret");
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => csc("signatures/signHash", signHashBody)),
    );
    const limited = answers.filter((answer) => answer.status === 429);
    const accepted = answers.filter((answer) => answer.status === 200);
    expect(limited.length).toBeGreaterThan(0);
    expect(accepted.length + limited.length).toBe(12);
    for (const answer of limited) {
      expect(answer.headers.get("retry-after")).toBe("1");
      expect(answer.json().error).toBe("rate_limited");
    }
    const usage = simulator.usage().clients.limited!;
    expect(usage.signCalls).toBe(accepted.length);
    expect(usage.maxSignCallsInOneSecond).toBeLessThanOrEqual(3);
  });

  it("refuses sign calls beyond the budget with 402 until usage is reset", async () => {
    const csc = await cscClient(simulator, "budget", "budget-secret");
    expect((await csc("signatures/signHash", signHashBody)).status).toBe(200);
    const cms = await http(`${simulator.url}/esign/v1/sign`, {
      json: { credentialId: "seal-rsa", digest: hash, digestAlgorithm: "sha256", level: "B-B" },
      headers: { authorization: "Bearer budget-key" },
    });
    expect(cms.status).toBe(200);
    const over = await csc("signatures/signHash", signHashBody);
    expect(over.status).toBe(402);
    expect(over.json().error).toBe("quota_exceeded");
    // Only billed calls use the budget: reading credentials still works.
    expect((await csc("credentials/list", {})).status).toBe(200);
    expect(simulator.usage().clients.budget!.signCalls).toBe(2);

    simulator.resetUsage();
    expect((await csc("signatures/signHash", signHashBody)).status).toBe(200);
  });
});
