import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isEsignError } from "@esign/errors";
import type { SigningUsage, SigningUsageReport, SignJobInput } from "@esign/jobs";
import { verifyPdfSignatures } from "@esign/pades";
import { BufferSource } from "@esign/pdf";
import { validate } from "@esign/testkit";
import { buildApi, parseApiConfig } from "esign-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, REDIS_URL, scrape, startCluster, type WorkerProcess } from "./worker-cluster";

const CONCURRENCY = 8;
const ADMIN_KEY = `chaos-admin-${process.pid}-key`;
/**
 * `CHAOS_IDEMPOTENCY=off` runs the remote profiles with `idempotency: false` (no key sent): the
 * crash test then shows what the keys prevent, signatures billed twice.
 */
const IDEMPOTENCY = process.env.CHAOS_IDEMPOTENCY !== "off";

let cluster: Cluster;
let api: Awaited<ReturnType<typeof buildApi>>;
let apiUrl: string;
let apiData: string;

beforeAll(async () => {
  cluster = await startCluster({
    workerEnv: {
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // A killed worker's jobs are recovered within seconds instead of the production 30 s.
      WORKER_LOCK_DURATION_MS: "3000",
      WORKER_STALLED_INTERVAL_MS: "1500",
    },
    remoteProfileOptions: { idempotency: IDEMPOTENCY },
  });
  await cluster.upload("inbox/invoice.pdf");
  apiData = await mkdtemp(join(tmpdir(), "esign-chaos-api-"));
  api = await buildApi({
    config: parseApiConfig({
      redisUrl: REDIS_URL,
      queuePrefix: cluster.prefix,
      dataDir: apiData,
      stores: { default: cluster.s3.config() },
      devApiKey: ADMIN_KEY,
      logLevel: "warn",
    }),
  });
  await api.listen({ port: 0, host: "127.0.0.1" });
  apiUrl = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await api?.close();
  await cluster?.close();
  if (apiData) await rm(apiData, { recursive: true, force: true });
});

function jobs(batch: string, count: number, signers: string[] = ["seal-rsa"]): SignJobInput[] {
  return Array.from({ length: count }, (_, index) => ({
    input: { store: "default", key: "inbox/invoice.pdf" },
    output: { store: "default", key: `signed/${batch}/${index}.pdf` },
    signer: signers[index % signers.length]!,
    idempotencyKey: `${batch}-${index}`,
  }));
}

async function signingUsage(): Promise<SigningUsageReport> {
  const response = await fetch(`${apiUrl}/v1/usage`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as SigningUsageReport;
}

/** The counters of `profiles` added up, as they grew between two reports. */
function usageGrowth(
  before: SigningUsageReport,
  after: SigningUsageReport,
  profiles: string[],
): SigningUsage {
  const sum = (report: SigningUsageReport, field: keyof SigningUsage) =>
    profiles.reduce((total, profile) => total + (report.profiles[profile]?.[field] ?? 0), 0);
  const fields = Object.keys(after.profiles[profiles[0]!]!) as (keyof SigningUsage)[];
  return Object.fromEntries(
    fields.map((field) => [field, sum(after, field) - sum(before, field)]),
  ) as unknown as SigningUsage;
}

async function waitForAll(ids: string[]) {
  return Promise.all(
    ids.map((id) => cluster.client.waitFor(id, { timeoutMs: 240_000, pollIntervalMs: 2_000 })),
  );
}

const completedCount = () => cluster.count("completed");

/** For failure messages: answered sign calls per second, from the simulator's request log. */
function billedPerSecond(): string {
  const perSecond = new Map<number, number>();
  for (const request of cluster.sim.requests()) {
    if (!request.path.endsWith("/signHash") || request.status !== 200) continue;
    const second = Math.floor(Date.parse(request.time) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  return [...perSecond.values()].join(" ");
}

async function stop(workers: WorkerProcess[]) {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGTERM");
  await Promise.all(workers.map((worker) => worker.exited));
}

describe("signing workers under failure", () => {
  it("bills exactly one signature per job when a worker is SIGKILLed three times mid-signing (idempotency keys)", async () => {
    const total = 200;
    const profiles = ["seal-rsa", "seal-esign-api"];
    cluster.sim.resetUsage();
    const usageBefore = await signingUsage();
    // Sign calls long enough that a kill lands while some are on the wire or being answered.
    cluster.sim.setFaults({ routes: ["sign"], latencyMs: 300, jitterMs: 200 });
    const survivor = await cluster.startWorker();
    let victim = await cluster.startWorker();
    const submitted = await cluster.client.submitBulk(jobs("crash", total, profiles));

    const victims: WorkerProcess[] = [victim];
    for (let kill = 1; kill <= 3; kill++) {
      // Only once the victim is busy signing: its jobs are then in flight in the sign stage.
      await expect
        .poll(() => scrape(victim, "esign_signing_usage_total", { kind: "calls" }), {
          timeout: 120_000,
          interval: 100,
        })
        .toBeGreaterThanOrEqual(6);
      victim.child.kill("SIGKILL");
      expect(await victim.exited).toBeNull();
      if (kill < 3) {
        victim = await cluster.startWorker();
        victims.push(victim);
      }
    }

    const results = await waitForAll(submitted.map(({ id }) => id));
    expect(results).toHaveLength(total);
    const billed = cluster.sim.usage();
    // `delivered` is counted on each worker's completed event, after BullMQ recorded the job: the
    // survivor's last counts can trail waitForAll (seen under the full suite's load: 199 of 200).
    const deliveredBy = Date.now() + 10_000;
    let usage = usageGrowth(usageBefore, await signingUsage(), profiles);
    while (usage.delivered < total && Date.now() < deliveredBy) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      usage = usageGrowth(usageBefore, await signingUsage(), profiles);
    }
    // For the record (the run without keys is in the report): what was billed and replayed.
    console.info(
      `crash test, idempotency ${IDEMPOTENCY ? "on" : "off"}: billed ${billed.signatures} signatures in ${billed.signCalls} calls, ${billed.replays} replayed; /v1/usage ${JSON.stringify(usage)}`,
    );
    expect(billed.signatures).toBe(total);
    // At least one kill hit a job between its paid call and its checkpoint: the retry was a replay.
    expect(billed.replays).toBeGreaterThanOrEqual(1);

    // The workers' own accounting brackets what the service billed, and every job delivered one.
    expect(usage.delivered).toBe(total);
    // Replays the workers saw; a worker killed while a replay was on its way missed it.
    expect(usage.replayed).toBeGreaterThanOrEqual(1);
    expect(usage.replayed).toBeLessThanOrEqual(billed.replays);
    expect(usage.billedAtLeast).toBeLessThanOrEqual(billed.signatures);
    expect(usage.billedAtMost).toBeGreaterThanOrEqual(billed.signatures);
    expect(usage.undeliveredAtMost).toBe(usage.billedAtMost - total);
    expect(await scrape(survivor, "esign_signing_usage_total", { kind: "delivered" })).toBeGreaterThan(0);
    expect(survivor.logged("recovered a stalled job")).toBeGreaterThan(0);

    // Jobs the killed workers had started ran again, and say so.
    const rerun = results.filter((result) => result.attempts > 1);
    expect(rerun.length).toBeGreaterThanOrEqual(3);
    const status = await cluster.client.get(submitted[results.indexOf(rerun[0]!)]!.id);
    expect(status.attempts).toBe(rerun[0]!.attempts);

    // Every output: one valid signature by our own verifier; ten also by the independent validators.
    const root = new Uint8Array(new X509Certificate(await readFile(cluster.rootPemPath)).raw);
    const downloads: string[] = [];
    for (let index = 0; index < total; index++) {
      const path = await cluster.download(`signed/crash/${index}.pdf`);
      downloads.push(path);
      const report = await verifyPdfSignatures(new BufferSource(await readFile(path)), {
        trustRoots: [root],
      });
      const signatures = report.signatures.filter((signature) => signature.type === "Sig");
      expect(signatures, `output ${index}`).toHaveLength(1);
      expect(signatures[0]!.valid, `output ${index}: ${signatures[0]!.problems.join("; ")}`).toBe(true);
    }
    for (let index = 0; index < total; index += total / 10) {
      const report = await validate(downloads[index]!, cluster.rootPemPath);
      expect(report.failures, report.output).toEqual([]);
    }
    cluster.sim.clearFaults();
    await stop([survivor, ...victims]);
  }, 300_000);

  it("completes every job through 20% 503s and 429 bursts without exceeding the global rate limit", async () => {
    const total = 120;
    const limit = 10;
    cluster.sim.resetUsage();
    cluster.sim.setFaults({
      routes: ["sign"],
      errorRate: 0.2,
      rateLimitBurst: { count: 6, retryAfterSeconds: 1 },
    });
    const workers = await Promise.all([
      cluster.startWorker({ SIGNING_RATE_LIMIT: String(limit) }),
      cluster.startWorker({ SIGNING_RATE_LIMIT: String(limit) }),
    ]);
    await writeFile(join(cluster.scratch, "not-a-pdf.pdf"), "plain text, not a PDF\n");
    await cluster.upload("inbox/not-a-pdf.pdf", join(cluster.scratch, "not-a-pdf.pdf"));
    const bad = await cluster.client.submit({
      input: { store: "default", key: "inbox/not-a-pdf.pdf" },
      signer: "seal-rsa",
    });
    const submitted = await cluster.client.submitBulk(jobs("faults", total));

    // A second burst of 429s halfway through.
    await expect.poll(completedCount, { timeout: 120_000, interval: 200 }).toBeGreaterThanOrEqual(total / 2);
    cluster.sim.setFaults({
      routes: ["sign"],
      errorRate: 0.2,
      rateLimitBurst: { count: 6, retryAfterSeconds: 1 },
    });

    const results = await waitForAll(submitted.map(({ id }) => id));
    expect(results).toHaveLength(total);
    const usage = cluster.sim.usage();
    expect(usage.signatures).toBe(total);
    expect(
      usage.maxSignCallsInOneSecond,
      `billed calls per second: ${billedPerSecond()}`,
    ).toBeLessThanOrEqual(limit);

    const sum = async (name: string, labels: Record<string, string> = {}) =>
      (await Promise.all(workers.map((worker) => scrape(worker, name, labels)))).reduce((a, b) => a + b, 0);
    expect(await sum("esign_signing_api_calls_total", { outcome: "429" })).toBeGreaterThanOrEqual(6);
    const unavailable = await sum("esign_signing_api_calls_total", { outcome: "5xx" });
    expect(unavailable).toBeGreaterThan(0);
    // Every 503 cost its job an attempt; no 429 did (they wait inside the attempt).
    expect(await sum("esign_retries_total")).toBe(unavailable);

    const failure = await cluster.client.waitFor(bad.id, { timeoutMs: 60_000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isEsignError(failure) && failure.code).toBe("E_NOT_PDF");
    expect((await cluster.client.get(bad.id)).attempts).toBe(1);
    cluster.sim.clearFaults();
    await stop(workers);
  }, 300_000);
});
