import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@esign/runtime";
import { REPO_ROOT } from "@esign/testkit";

export const sha256hex = (text: string) => createHash("sha256").update(text).digest("hex");

export interface RunningAgent {
  /** The API's base URL. */
  base: string;
  /** The built-in simulator's base URL. */
  simUrl: string;
  /** ESIGN_DATA_DIR of this agent (its local store is `objects/` inside). */
  dataDir: string;
  devKey: string;
  /** Its BullMQ prefix (unique per agent), as its banner prints it. */
  queuePrefix: string;
  /** A second tenant's key: tenant `other`, allowed only `default:other/`. */
  otherKey: string;
  /** The built-in simulator's admin token (fresh at every start). */
  simAdminToken: string;
  /** Everything the agent printed so far. */
  output(): string;
  stop(): void;
  /** SIGKILL to the agent's process group: a crash, no draining. */
  kill(): Promise<void>;
  /** The environment it was started with, for a restart on the same ports, data folder and queues. */
  env: Record<string, string | undefined>;
}

/**
 * Starts the agent the way a user does (`pnpm start`, the all-in-one default: the built JavaScript
 * on node, built first when stale) on free ports, with a dev key and a second tenant, and waits for
 * its banner. `env` adds or overrides settings; `undefined` removes one (ESIGN_QUEUE_PREFIX: undefined
 * lets the agent derive its prefix from its data folder).
 */
export async function startAllInOne(
  env: Record<string, string | undefined> = {},
  restart?: RunningAgent,
): Promise<RunningAgent> {
  const dataDir = restart?.dataDir ?? join(await mkdtemp(join(tmpdir(), "esign-agent-")), "data");
  const [port, simPort] = restart
    ? [Number(new URL(restart.base).port), Number(new URL(restart.simUrl).port)]
    : [await freePort(), await freePort()];
  const devKey = restart?.devKey ?? `devkey-${randomBytes(12).toString("hex")}`;
  const otherKey = restart?.otherKey ?? `other-${randomBytes(12).toString("hex")}`;
  const agentEnv: Record<string, string | undefined> = {
    PORT: String(port),
    ESIGN_SIM_PORT: String(simPort),
    ESIGN_DATA_DIR: dataDir,
    ESIGN_DEV_API_KEY: devKey,
    // Its own queues: agents of other test files share this Redis, and must not take each other's jobs.
    ESIGN_QUEUE_PREFIX: restart?.queuePrefix ?? `{esign-test-${randomBytes(4).toString("hex")}}`,
    ESIGN_TENANTS: JSON.stringify({
      other: { stores: { default: ["other/"] }, uploadPrefix: "other/uploads/" },
    }),
    ESIGN_API_KEYS: JSON.stringify([{ sha256: sha256hex(otherKey), tenant: "other", name: "other" }]),
    ...restart?.env,
    ...env,
  };
  const child = spawn("pnpm", ["start"], {
    cwd: REPO_ROOT,
    env: Object.fromEntries(
      Object.entries({ ...process.env, ...agentEnv }).filter(([, value]) => value !== undefined),
    ),
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so stop() reaches pnpm, its shell and the agent alike.
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  // Up to two minutes: the first agent after a source change waits for the bundle to be rebuilt.
  for (let i = 0; i < 1200 && !output.includes("Sign a PDF:"); i++) {
    if (child.exitCode !== null) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  if (!output.includes("Sign a PDF:")) {
    if (child.pid) process.kill(-child.pid, "SIGTERM");
    throw new Error(`the agent did not start:\n${output}`);
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const queuePrefix = /queue prefix: (\{[^}]+\})/.exec(output)?.[1];
  if (!queuePrefix) throw new Error(`the agent printed no queue prefix:\n${output}`);
  return {
    base: `http://127.0.0.1:${port}`,
    simUrl: `http://127.0.0.1:${simPort}`,
    dataDir,
    devKey,
    queuePrefix,
    otherKey,
    simAdminToken: /simulator admin token: (\S+)/.exec(output)?.[1] ?? "",
    env: agentEnv,
    output: () => output,
    stop: () => {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
    },
    kill: async () => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
      await exited;
    },
  };
}
