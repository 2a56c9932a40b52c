// Proves that our BullMQ layout runs on a real Redis Cluster: every queue key carries the `{esign}`
// hash tag, so BullMQ's multi-key Lua scripts never straddle slots. The control case shows the same
// workload with an untagged prefix failing with CROSSSLOT, which is what this test guards against.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { FlowProducer, Queue, QueueEvents, Worker } from "bullmq";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

// Mirrors docs/architecture.md: the prefix is a hash tag, the queues are these three.
const HASH_TAGGED_PREFIX = "{esign}";
const SIGN_QUEUE = "esign-sign";
const BATCH_QUEUE = "esign-batch";
const WEBHOOK_QUEUE = "esign-webhooks";
const CLUSTER_NODES = 3;
// Redis Cluster nodes talk to each other on port + 10000 (the cluster bus).
const CLUSTER_BUS_OFFSET = 10_000;

async function redisServerPath(): Promise<string | undefined> {
  try {
    const { stdout } = await run("sh", ["-c", "command -v redis-server"]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

const redisServer = await redisServerPath();
if (!redisServer) {
  console.warn("redis-cluster.test: SKIPPED — redis-server is not installed (apt-get install redis-server)");
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** An OS-assigned port whose cluster-bus twin (port + 10000) is free as well. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const assigned = typeof address === "object" && address ? address.port : 0;
        server.close(() => resolve(assigned));
      });
    });
    const busPort = port + CLUSTER_BUS_OFFSET;
    if (busPort > 65_535 || taken.has(port) || taken.has(busPort)) continue;
    if (await portIsFree(busPort)) return port;
  }
  throw new Error("no free port pair for a Redis Cluster node");
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);
  return stdout;
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

class LocalRedisCluster {
  readonly ports: number[] = [];
  private readonly processes: ChildProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), "esign-redis-cluster-"));

  async start(serverPath: string): Promise<void> {
    const taken = new Set<number>();
    for (let node = 0; node < CLUSTER_NODES; node++) {
      const port = await freeClusterPort(taken);
      taken.add(port).add(port + CLUSTER_BUS_OFFSET);
      this.ports.push(port);
      // biome-ignore format: one flag pair per line reads better than a packed array
      const child = spawn(serverPath, [
        "--port", String(port),
        "--bind", "127.0.0.1",
        "--cluster-enabled", "yes",
        "--cluster-config-file", `nodes-${port}.conf`,
        "--dir", this.dir,
        "--save", "",
        "--appendonly", "no",
      ], { stdio: "ignore" });
      this.processes.push(child);
    }
    for (const port of this.ports) {
      await waitFor(`redis node ${port}`, async () => (await redisCli(port, "ping")).includes("PONG"));
    }
    const addresses = this.ports.map((port) => `127.0.0.1:${port}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"]);
    for (const port of this.ports) {
      await waitFor(`cluster_state:ok on ${port}`, async () =>
        (await redisCli(port, "cluster", "info")).includes("cluster_state:ok"),
      );
    }
  }

  client(): Cluster {
    return new Cluster(
      this.ports.map((port) => ({ host: "127.0.0.1", port })),
      // BullMQ workers block on BZPOPMIN; they must not give up after a retry budget.
      { redisOptions: { maxRetriesPerRequest: null } },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every key on every master, so the test sees keys no matter which node holds them. */
async function allKeys(cluster: Cluster): Promise<string[]> {
  const keys: string[] = [];
  for (const node of cluster.nodes("master")) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "COUNT", 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== "0");
  }
  return keys;
}

describe.skipIf(!redisServer)("BullMQ on a 3-node Redis Cluster", () => {
  const cluster = new LocalRedisCluster();
  let connection: Cluster;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    await cluster.start(redisServer as string);
    connection = cluster.client();
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    connection?.disconnect();
    await cluster.stop();
  });

  it("spreads the 16384 slots over three masters", async () => {
    // CLUSTER SLOTS rows: [firstSlot, lastSlot, [host, port, id], ...replicas]
    const ranges = await connection.cluster("SLOTS");
    const owners = new Set(ranges.map(([, , [, port]]) => port));
    const covered = ranges.reduce((sum, [first, last]) => sum + (last - first + 1), 0);
    expect([...owners].sort()).toEqual([...cluster.ports].sort());
    expect(covered).toBe(16_384);
  });

  it("runs jobs and a parent/child flow with the {esign} prefix, all keys in one slot", async () => {
    const prefix = HASH_TAGGED_PREFIX;
    const signQueue = new Queue(SIGN_QUEUE, { connection, prefix });
    // Read the event streams from their start: the default ("$", only what arrives after the
    // first XREAD) can miss a job that completes before QueueEvents has issued that XREAD.
    const signEvents = new QueueEvents(SIGN_QUEUE, { connection, prefix, lastEventId: "0" });
    const batchEvents = new QueueEvents(BATCH_QUEUE, { connection, prefix, lastEventId: "0" });
    const signWorker = new Worker(
      SIGN_QUEUE,
      async (job) => ({ signed: `${job.data.document}.signed.pdf` }),
      { connection, prefix, concurrency: 4 },
    );
    const batchWorker = new Worker(
      BATCH_QUEUE,
      async (job) => ({ batch: job.data.batch, children: await job.getChildrenValues() }),
      { connection, prefix },
    );
    const webhookQueue = new Queue(WEBHOOK_QUEUE, { connection, prefix });
    const flows = new FlowProducer({ connection, prefix });
    closers.push(
      () => signQueue.close(),
      () => signEvents.close(),
      () => batchEvents.close(),
      () => signWorker.close(),
      () => batchWorker.close(),
      () => webhookQueue.close(),
      () => flows.close(),
    );
    await Promise.all([signEvents.waitUntilReady(), batchEvents.waitUntilReady()]);

    const jobs = await signQueue.addBulk(
      ["a", "b", "c", "d", "e"].map((document) => ({ name: "sign", data: { document } })),
    );
    const results = await Promise.all(jobs.map((job) => job.waitUntilFinished(signEvents)));
    expect(results.map((result) => result.signed)).toEqual([
      "a.signed.pdf",
      "b.signed.pdf",
      "c.signed.pdf",
      "d.signed.pdf",
      "e.signed.pdf",
    ]);

    const flow = await flows.add({
      name: "batch",
      queueName: BATCH_QUEUE,
      data: { batch: "nightly" },
      children: ["x", "y"].map((document) => ({
        name: "sign",
        queueName: SIGN_QUEUE,
        data: { document },
      })),
    });
    const parentResult = await flow.job.waitUntilFinished(batchEvents);
    expect(parentResult.batch).toBe("nightly");
    expect(
      Object.values(parentResult.children)
        .map((child) => (child as { signed: string }).signed)
        .sort(),
    ).toEqual(["x.signed.pdf", "y.signed.pdf"]);

    await webhookQueue.add("deliver", { event: "document.signed" });

    const keys = await allKeys(connection);
    for (const queue of [SIGN_QUEUE, BATCH_QUEUE, WEBHOOK_QUEUE]) {
      expect(keys.some((key) => key.startsWith(`${prefix}:${queue}:`))).toBe(true);
    }
    const expectedSlot = await connection.cluster("KEYSLOT", prefix);
    const slots = new Set<number>();
    for (const key of keys) slots.add(await connection.cluster("KEYSLOT", key));
    expect([...slots]).toEqual([expectedSlot]);
  });

  it("fails with CROSSSLOT when the prefix has no hash tag", async () => {
    const untagged = new Queue(SIGN_QUEUE, { connection, prefix: "esign-untagged" });
    closers.push(() => untagged.close());
    await expect(untagged.add("sign", { document: "z" })).rejects.toThrow(/CROSSSLOT/);
  });
});
