/**
 * Two agents as users start them (`pnpm start`, no ESIGN_QUEUE_PREFIX), each with its own data
 * folder, on one Redis: each derives its own queue prefix from its folder and prints it, so each
 * signs exactly its own jobs (same keys in both stores) and fails none. With one shared default
 * prefix they took each other's jobs and failed them E_NOT_FOUND.
 */
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT, run, SAMPLES_DIR } from "@esign/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";
import { startTestRedis, type TestRedis } from "./support/redis-server";

const JOBS = 12;
/** A different document per agent, under the same keys: a signed copy shows whose document it is. */
const DOCUMENTS = ["chromium-invoice.pdf", "libreoffice-acroform-fields.pdf"];
let redis: TestRedis;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  for (let i = 0; i < 2; i++) {
    agents.push(await startAllInOne({ REDIS_URL: redis.url, ESIGN_QUEUE_PREFIX: undefined }));
  }
}, 240_000);

afterAll(async () => {
  for (const agent of agents) agent.stop();
  await redis?.stop();
});

async function submitAll(agent: RunningAgent): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < JOBS; index++) {
    const response = await fetch(`${agent.base}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${agent.devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { store: "default", key: `shared/in-${index}.pdf` } }),
    });
    expect(response.status, await response.clone().text()).toBe(202);
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}

async function finalStates(agent: RunningAgent, ids: string[]): Promise<string[]> {
  const states: string[] = [];
  for (const id of ids) {
    let state = "";
    for (let i = 0; i < 600 && state !== "completed" && state !== "failed"; i++) {
      const response = await fetch(`${agent.base}/v1/jobs/${id}`, {
        headers: { authorization: `Bearer ${agent.devKey}` },
      });
      const body = (await response.json()) as { state: string; error?: { code: string } };
      state = body.state === "failed" ? `failed ${body.error?.code}` : body.state;
      if (state === "completed" || state.startsWith("failed")) break;
      await new Promise((done) => setTimeout(done, 200));
    }
    states.push(state);
  }
  return states;
}

it("gives each agent its own queue prefix, printed at start", () => {
  const [first, second] = agents.map((agent) => agent.queuePrefix);
  expect(first).toMatch(/^\{esign-[0-9a-f]{10}\}$/);
  expect(second).toMatch(/^\{esign-[0-9a-f]{10}\}$/);
  expect(first).not.toBe(second);
  expect(agents[0]!.output()).toContain("from the data folder");
});

it(`signs ${JOBS} jobs on each of two agents sharing a Redis, each by the agent that has the document`, async () => {
  // The same keys in both stores, as two installations of the same application would have.
  for (const [which, agent] of agents.entries()) {
    await mkdir(join(agent.dataDir, "objects", "shared"), { recursive: true });
    for (let index = 0; index < JOBS; index++) {
      await copyFile(
        join(SAMPLES_DIR, DOCUMENTS[which]!),
        join(agent.dataDir, "objects", "shared", `in-${index}.pdf`),
      );
    }
  }
  const submitted = await Promise.all(agents.map((agent) => submitAll(agent)));
  const states = await Promise.all(agents.map((agent, index) => finalStates(agent, submitted[index]!)));
  expect(states).toEqual(agents.map(() => Array.from({ length: JOBS }, () => "completed")));
  // Each signed copy is in its own agent's store and extends that agent's document.
  for (const [which, agent] of agents.entries()) {
    const original = await readFile(join(SAMPLES_DIR, DOCUMENTS[which]!));
    const signed = await Promise.all(
      Array.from({ length: JOBS }, (_, index) =>
        readFile(join(agent.dataDir, "objects", "signed", "shared", `in-${index}.pdf`)).catch(
          () => undefined,
        ),
      ),
    );
    expect(signed.map((copy) => copy?.subarray(0, original.length).equals(original) ?? "missing")).toEqual(
      Array.from({ length: JOBS }, () => true),
    );
  }
  // A producer on the same machine finds an agent's jobs from its data folder alone (the CLI
  // derives the prefix the way the agent does).
  const { ESIGN_QUEUE_PREFIX: _unset, ...inherited } = process.env;
  const status = await run("pnpm", ["-s", "esign", "status", submitted[1]![0]!], {
    cwd: REPO_ROOT,
    env: { ...inherited, REDIS_URL: redis.url, ESIGN_DATA_DIR: agents[1]!.dataDir },
  });
  expect(JSON.parse(status.stdout)).toMatchObject({ id: submitted[1]![0], state: "completed" });
}, 300_000);
