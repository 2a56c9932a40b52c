import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { optionsFromEnv } from "../src/config";
import { http, scratch } from "./helpers";

const PACKAGE_DIR = join(import.meta.dirname, "..");
const TSX = join(PACKAGE_DIR, "node_modules", ".bin", "tsx");

/** Starts `tsx src/main.ts` (what `pnpm --filter esign-sim start` runs) and waits for its URL. */
function startStandalone(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(TSX, ["src/main.ts"], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (\S+)/.exec(stderr);
      if (match) resolve({ url: match[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`esign-sim exited with ${code}: ${stderr}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

describe("standalone entry", () => {
  const files = scratch();
  afterAll(() => files.remove());

  it("validates the environment with messages naming the variable", () => {
    expect(optionsFromEnv({})).toMatchObject({ port: 8090, host: "127.0.0.1", dataDir: "./.data/esign-sim" });
    expect(() => optionsFromEnv({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => optionsFromEnv({ ESIGN_SIM_BASE_URL: "not a url" })).toThrow(/ESIGN_SIM_BASE_URL/);
    expect(() => optionsFromEnv({ ESIGN_SIM_FAULTS: "{nope" })).toThrow(
      /ESIGN_SIM_FAULTS: is not valid JSON/,
    );
    expect(() => optionsFromEnv({ ESIGN_SIM_FAULTS: '{"errorRate": 2}' })).toThrow(/ESIGN_SIM_FAULTS/);
    expect(
      optionsFromEnv({ ESIGN_SIM_FAULTS: '{"errorRate": 0.5}', ESIGN_SIM_CALLS_PER_SECOND: "5" }),
    ).toMatchObject({
      faults: { errorRate: 0.5, routes: ["sign"] },
      limits: { callsPerSecond: 5 },
    });
  });

  it("generates its PKI with the configured base URL on first start and reuses it, revocations included", async () => {
    const env = { PORT: "0", ESIGN_SIM_DATA: files.dir, ESIGN_SIM_BASE_URL: "http://sim.test:8090" };
    const first = await startStandalone(env);
    const rootPem = (await http(`${first.url}/pki/root.pem`)).body.toString();
    expect(readFileSync(join(files.dir, "root.pem"), "utf8")).toBe(rootPem);
    const pki = JSON.parse(readFileSync(join(files.dir, "pki.json"), "utf8"));
    const seal = new X509Certificate(pki.credentials["seal-rsa"].certificate);
    expect(seal.infoAccess).toContain("OCSP - URI:http://sim.test:8090/ocsp");
    expect(seal.infoAccess).toContain("CA Issuers - URI:http://sim.test:8090/pki/issuing.cer");
    expect((await http(`${first.url}/admin/credentials/seal-rsa/revoke`, { json: {} })).status).toBe(200);
    expect(await stop(first.child)).toBe(0);

    const second = await startStandalone(env);
    try {
      expect((await http(`${second.url}/pki/root.pem`)).body.toString()).toBe(rootPem);
      const crl = (await http(`${second.url}/crl/issuing.crl`)).body;
      const serial = Buffer.from(seal.serialNumber, "hex");
      expect(crl.includes(serial)).toBe(true);
    } finally {
      await stop(second.child);
    }
  });
});
