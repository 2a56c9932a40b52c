/**
 * What the all-in-one leaves in its data folder (documents, signed copies, the simulator's keys
 * and trust anchor, the demo client secret) is readable by the user who started it only.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { SAMPLES_DIR } from "@esign/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";

let agent: RunningAgent;

beforeAll(async () => {
  agent = await startAllInOne();
});

afterAll(() => agent?.stop());

/** Every file and folder under `root` (root included), relative paths with their permission bits. */
async function modesUnder(root: string): Promise<Record<string, string>> {
  const modes: Record<string, string> = {};
  const entries = await readdir(root, { recursive: true });
  for (const path of ["", ...entries]) {
    modes[path === "" ? "." : path] = ((await stat(join(root, path))).mode & 0o777).toString(8);
  }
  return modes;
}

it("creates every file 0600 and every folder 0700 in its data folder", async () => {
  const response = await fetch(`${agent.base}/v1/sign`, {
    method: "POST",
    headers: { authorization: `Bearer ${agent.devKey}`, "content-type": "application/pdf" },
    body: await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf")),
  });
  expect(response.status, await response.clone().text()).toBe(200);

  const modes = await modesUnder(agent.dataDir);
  const files = Object.keys(modes);
  // The upload, its signed copy, the simulator's PKI and the client secret at least.
  expect(files.some((path) => path.startsWith("objects/") && path.endsWith(".pdf"))).toBe(true);
  expect(files.some((path) => path.includes("signed/"))).toBe(true);
  expect(files).toContain("esign-sim/client-secret");
  const open = Object.entries(modes).filter(([, mode]) => mode !== "600" && mode !== "700");
  expect(open).toEqual([]);
});
