/**
 * /readyz follows the signing path, not only the signing service's reachability: the worker
 * probes each profile with a call that bills nothing (CSC credentials/info) and the API answers
 * 503 with the reason once every signing call would fail, here after the simulator revoked the
 * credential the all-in-one signs with (the service itself still answers /healthz).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";

let agent: RunningAgent;

beforeAll(async () => {
  agent = await startAllInOne({ SIGNER_PROBE_INTERVAL_MS: "500" });
}, 180_000);

afterAll(() => agent?.stop());

interface Readiness {
  status: number;
  checks: Record<string, string>;
}

async function readiness(): Promise<Readiness> {
  const response = await fetch(`${agent.base}/readyz`);
  return {
    status: response.status,
    checks: ((await response.json()) as { checks: Record<string, string> }).checks,
  };
}

async function readinessWhen(predicate: (readiness: Readiness) => boolean): Promise<Readiness> {
  let last = await readiness();
  for (let i = 0; i < 100 && !predicate(last); i++) {
    await new Promise((done) => setTimeout(done, 200));
    last = await readiness();
  }
  return last;
}

it("answers 503 with the reason once the signing credential is revoked", async () => {
  const ready = await readinessWhen((state) => state.checks["profile:default"] === "ok");
  expect(ready).toMatchObject({ status: 200, checks: { redis: "ok", "profile:default": "ok" } });

  const adminToken = /simulator admin token: (\S+)/.exec(agent.output())![1]!;
  const revoked = await fetch(`${agent.simUrl}/admin/credentials/seal-rsa/revoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ reason: "keyCompromise" }),
  });
  expect(revoked.status, await revoked.clone().text()).toBe(200);

  const notReady = await readinessWhen((state) => state.status === 503);
  expect(notReady.status).toBe(503);
  expect(notReady.checks["profile:default"]).toMatch(/^E_SIGNER_REVOKED: credential seal-rsa/);
  // The service answers: only a call on the signing path shows it cannot sign.
  expect(
    Object.entries(notReady.checks)
      .filter(([, value]) => value !== "ok")
      .map(([name]) => name),
  ).toEqual(["profile:default"]);
}, 120_000);
