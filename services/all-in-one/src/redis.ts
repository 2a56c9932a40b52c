import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { freePort } from "@esign/runtime";
import { Redis } from "ioredis";

const LOCAL_REDIS = "redis://127.0.0.1:6379";

/** The Redis the agent uses, and how to stop it when it is a private one. */
export interface AgentRedis {
  url: string;
  stop?: () => void;
}

/** REDIS_URL, else a local Redis, else a private redis-server of our own, else a clear way out. */
export async function resolveRedis(configured: string | undefined, dataDir: string): Promise<AgentRedis> {
  if (configured) {
    if (await answers(configured)) return { url: configured };
    throw new EsignError("E_CONFIG", `REDIS_URL=${configured} does not answer`);
  }
  if (await answers(LOCAL_REDIS)) return { url: LOCAL_REDIS };
  const privateRedis = await startPrivateRedis(join(dataDir, "redis"));
  if (privateRedis) return privateRedis;
  throw new EsignError(
    "E_CONFIG",
    "no Redis: set REDIS_URL to a Redis you run, or start one on 127.0.0.1:6379, or install redis-server (e.g. apt-get install redis-server) so the agent can start a private one",
  );
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1500,
  });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A redis-server on a free loopback port, persisting (append-only) into `dir`; undefined if none starts. */
async function startPrivateRedis(dir: string): Promise<AgentRedis | undefined> {
  const port = await freePort();
  await mkdir(dir, { recursive: true });
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--maxmemory-policy",
      "noeviction",
    ],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  const started = await new Promise<boolean>((done) => {
    child.once("error", () => done(false));
    const poll = async (triesLeft: number) => {
      if (await answers(url)) return done(true);
      if (triesLeft === 0 || child.exitCode !== null) return done(false);
      setTimeout(() => void poll(triesLeft - 1), 100);
    };
    void poll(50);
  });
  if (started) return { url, stop: () => child.kill("SIGTERM") };
  child.kill("SIGTERM");
  return undefined;
}
