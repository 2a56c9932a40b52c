import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@esign/runtime";

/**
 * A redis-server of the test's own on a free loopback port, without persistence, that the test may
 * stop, kill and restart (never the shared Redis on 6379, which other test files use).
 */
export interface TestRedis {
  url: string;
  port: number;
  /** SIGSTOP: the port still accepts connections, nothing answers (a hung or unreachable Redis). */
  pause(): void;
  resume(): void;
  /** SIGKILL: connections are refused; the data (none persisted) is gone. */
  kill(): Promise<void>;
  /** A fresh, empty redis-server on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `extraArgs`: more redis-server options, e.g. `["--rename-command", "CONFIG", ""]`. */
export async function startTestRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  let child = await spawnRedis(port, extraArgs);
  const exited = (process: ChildProcess) =>
    process.exitCode !== null || process.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((done) => process.once("exit", () => done()));
  const kill = async () => {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await exited(child);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    kill,
    async restart() {
      await kill();
      child = await spawnRedis(port, extraArgs);
    },
    stop: kill,
  };
}

async function spawnRedis(port: number, extraArgs: string[]): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), "esign-redis-"));
  const child = spawn(
    "/usr/bin/redis-server",
    // Its own folder: a test that turns persistence on must not write into the checkout.
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      ...extraArgs,
    ],
    { stdio: "ignore" },
  );
  child.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 100; i++) {
    if (await answersPing(port)) return child;
    if (child.exitCode !== null) break;
    await new Promise((done) => setTimeout(done, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not start on port ${port}`);
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
    socket.setTimeout(500, () => {
      socket.destroy();
      done(false);
    });
    socket.once("data", (data) => {
      socket.destroy();
      done(data.toString().startsWith("+PONG"));
    });
    socket.once("error", () => done(false));
  });
}
