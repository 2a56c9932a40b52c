import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { newSecret, REDIS_URL, startHarness, startReceiver, waitFor } from "./harness";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

it("runs standalone from the environment, delivers, serves /metrics and stops cleanly on SIGTERM", async () => {
  const secret = newSecret();
  const receiver = await startReceiver(() => ({ status: 200 }));
  // The harness's own notifier is stopped: the standalone process is the only consumer.
  const harness = await startHarness({ tenants: { acme: { secrets: [secret] } } });
  await harness.stop();
  try {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
      env: {
        PATH: process.env.PATH,
        REDIS_URL,
        ESIGN_QUEUE_PREFIX: harness.config.queuePrefix,
        WEBHOOK_SECRETS: JSON.stringify({ tenants: { acme: { secrets: [secret] } } }),
        WEBHOOK_ALLOW_CIDRS: "127.0.0.1/32",
        METRICS_PORT: "0",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    children.push(child);
    const metricsPort = await waitFor(async () => {
      const match = /"metrics":\{[^}]*"port":(\d+)/.exec(stdout);
      return match === null ? undefined : Number(match[1]);
    });
    const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

    expect(await harness.finished(job.jobId!)).toMatchObject([{ outcome: "delivered", statusCode: 200 }]);
    expect(receiver.verify(0, secret)).toMatchObject({ type: "job.completed" });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain('esign_webhook_delivery_attempts_total{outcome="delivered"} 1');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);

    child.kill("SIGTERM");
    const [exitCode] = await once(child, "exit");
    expect(exitCode).toBe(0);
  } finally {
    await receiver.close();
    await harness.cleanup();
  }
});
