import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@esign/runtime";
import { afterEach, expect, it } from "vitest";
import { startTestRedis } from "../../../test/support/redis-server";
import { newSecret, REDIS_URL, type Receiver, startHarness, startReceiver, waitFor } from "./harness";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The standalone entry in a child process, fed from the environment only; resolves once /healthz answers. */
async function startStandalone(env: Record<string, string>, receiver: Receiver) {
  const metricsPort = await freePort();
  const secret = newSecret();
  // The harness's own notifier is stopped: the standalone process is the only consumer.
  const harness = await startHarness({ tenants: { acme: { secrets: [secret] } } });
  cleanups.push(() => harness.cleanup());
  await harness.stop();
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env: {
      PATH: process.env.PATH,
      REDIS_URL,
      ESIGN_QUEUE_PREFIX: harness.config.queuePrefix,
      WEBHOOK_SECRETS: JSON.stringify({ tenants: { acme: { secrets: [secret] } } }),
      METRICS_PORT: String(metricsPort),
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  cleanups.push(() => child.exitCode === null && child.kill("SIGKILL"));
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  await waitFor(async () => {
    const healthz = await fetch(`http://127.0.0.1:${metricsPort}/healthz`).catch(() => undefined);
    return healthz?.ok ? true : undefined;
  }, 60_000);
  return { child, harness, secret, metricsPort, receiver, stdout: () => stdout };
}

it("runs standalone from the environment, delivers, serves /metrics and stops cleanly on SIGTERM", async () => {
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const { child, harness, secret, metricsPort } = await startStandalone(
    { WEBHOOK_ALLOW_CIDRS: "127.0.0.1/32" },
    receiver,
  );
  const job = await harness.enqueue({ tenant: "acme", url: receiver.url });

  expect(await harness.finished(job.jobId!)).toMatchObject([{ outcome: "delivered", statusCode: 200 }]);
  expect(receiver.verify(0, secret)).toMatchObject({ type: "job.completed" });
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toContain('esign_webhook_deliveries_total{outcome="delivered"} 1');
  expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);

  child.kill("SIGTERM");
  const [exitCode] = await once(child, "exit");
  expect(exitCode).toBe(0);
});

it("logs at LOG_LEVEL: warn keeps a delivered webhook out of the log", async () => {
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const { harness, stdout } = await startStandalone(
    { WEBHOOK_ALLOW_CIDRS: "127.0.0.1/32", LOG_LEVEL: "warn" },
    receiver,
  );
  const job = await harness.enqueue({ tenant: "acme", url: receiver.url });
  expect(await harness.finished(job.jobId!)).toMatchObject([{ outcome: "delivered" }]);
  // The shared test Redis has no persistence: its warning is the one line at this level.
  const lines = stdout()
    .split("\n")
    .filter((line) => line !== "");
  for (const line of lines) expect(JSON.parse(line)).toMatchObject({ level: 40 });
  expect(stdout()).not.toContain("webhook delivered");
});

it("warns and serves esign_redis_persistence_enabled 0 on a Redis without persistence", async () => {
  const redis = await startTestRedis();
  cleanups.push(() => redis.stop());
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const { metricsPort, stdout } = await startStandalone({ REDIS_URL: redis.url }, receiver);

  expect(await servedPersistenceGauge(metricsPort)).toBe(0);
  expect(stdout()).toMatch(/Redis keeps no data over a restart/);
});

it("serves esign_redis_persistence_enabled 1 and does not warn on a Redis started with --appendonly yes", async () => {
  const redis = await startTestRedis(["--appendonly", "yes"]);
  cleanups.push(() => redis.stop());
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const { metricsPort, stdout } = await startStandalone({ REDIS_URL: redis.url }, receiver);

  expect(await servedPersistenceGauge(metricsPort)).toBe(1);
  expect(stdout()).toMatch(/append-only file \(AOF\) on/);
  expect(stdout()).not.toMatch(/Redis keeps no data over a restart/);
});

/** `esign_redis_persistence_enabled` on /metrics once the check has run (-1 until then). */
async function servedPersistenceGauge(metricsPort: number): Promise<number> {
  return waitFor(async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const value = Number(/^esign_redis_persistence_enabled (-?\d+)$/m.exec(metrics)?.[1]);
    return value === 0 || value === 1 ? value : undefined;
  });
}

it("verifies the receiver's certificate against the URL's host name while connecting to the pinned address", async () => {
  // A receiver certificate for "localhost" only, trusted through NODE_EXTRA_CA_CERTS.
  const dir = mkdtempSync(join(tmpdir(), "notifier-tls-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  const receiver = await startReceiver(() => ({ status: 200 }), {
    tls: { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") },
  });
  cleanups.push(() => receiver.close());
  const { harness, secret } = await startStandalone(
    { NODE_EXTRA_CA_CERTS: cert, WEBHOOK_ALLOW_HOSTS: "localhost", WEBHOOK_ALLOW_CIDRS: "127.0.0.1/32" },
    receiver,
  );

  const byName = await harness.enqueue({ tenant: "acme", url: `https://localhost:${receiver.port}/hook` });
  expect(await harness.finished(byName.jobId!)).toMatchObject([{ outcome: "delivered", statusCode: 200 }]);
  expect(receiver.verify(0, secret)).toMatchObject({ type: "job.completed" });

  // Same server, but the URL names an address the certificate does not cover: refused by TLS.
  const byAddress = await harness.enqueue({ tenant: "acme", url: receiver.url });
  const [firstAttempt] = await waitFor(async () => {
    const log = await harness.deliveries(byAddress.jobId!);
    return log.length > 0 ? log : undefined;
  });
  expect(firstAttempt).toMatchObject({ outcome: "retrying", error: { code: "E_WEBHOOK" } });
  expect(firstAttempt!.error!.message).toMatch(/does not match certificate/);
  expect(receiver.requests).toHaveLength(1);
});
