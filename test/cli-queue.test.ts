/**
 * `esign submit` and `esign status` against a running agent, the way an operator uses them from a
 * shell: the file goes through the agent's store and queue and comes back signed.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, run, SAMPLES_DIR, validate } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";

let agent: RunningAgent;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "esign-cli-queue-"));
  agent = await startAllInOne();
});

afterAll(() => agent?.stop());

describe("esign submit and esign status", () => {
  it("enqueues a local file, waits for the worker and writes the signed PDF; status reports it", async () => {
    const env = { ...process.env, ESIGN_DATA_DIR: agent.dataDir, ESIGN_QUEUE_PREFIX: agent.queuePrefix };
    const input = join(SAMPLES_DIR, "libreoffice-acroform-fields.pdf");
    const output = join(work, "submitted.pdf");
    const submitted = await run("pnpm", ["-s", "esign", "submit", input, "-o", output], {
      cwd: REPO_ROOT,
      env,
    });
    const jobId = submitted.stdout.trim();
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    const original = await readFile(input);
    const signed = await readFile(output);
    expect(signed.subarray(0, original.length).equals(original)).toBe(true);
    const root = join(work, "root.pem");
    await writeFile(root, await (await fetch(`${agent.simUrl}/pki/root.pem`)).text());
    const verdict = await validate(output, root);
    expect(verdict.failures, verdict.output).toEqual([]);

    const status = await run("pnpm", ["-s", "esign", "status", jobId], { cwd: REPO_ROOT, env });
    expect(JSON.parse(status.stdout)).toMatchObject({
      id: jobId,
      state: "completed",
      result: { level: "B-B" },
    });
  });
});
