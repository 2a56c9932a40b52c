import { createHash, randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestPki, writeTestPki } from "@esign/pades/testing";
import type { Prepared } from "@esign/pipeline";
import { createP12Signer, type Signer } from "@esign/signers";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointStore } from "../src/checkpoints";
import { ExactlyOnceSigner } from "../src/exactly-once-signer";
import { createWorkerMetrics } from "../src/metrics";
import { SigningRateLimiter } from "../src/rate-limiter";
import type { SignerEntry } from "../src/signer-profiles";
import { REDIS_URL } from "./harness";

const prefix = `{esign-once-test-${randomUUID().slice(0, 8)}}`;
const connections: Redis[] = [];

afterAll(async () => {
  const redis = connections[0]!;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await Promise.all(connections.map((connection) => connection.quit()));
});

/** One worker process as far as billing is concerned: its own Redis connection and ExactlyOnceSigner. */
function workerProcess(): ExactlyOnceSigner {
  const redis = new Redis(REDIS_URL);
  connections.push(redis);
  return new ExactlyOnceSigner(
    new CheckpointStore(redis, prefix),
    new SigningRateLimiter(redis, { key: `${prefix}:limiter`, perSecond: undefined }),
    createWorkerMetrics(() => []),
  );
}

describe("ExactlyOnceSigner", () => {
  it("pays once when two processes run the same job at the same time (a lost lock)", async () => {
    const directory = await mkdtemp(join(tmpdir(), "esign-once-"));
    const pki = await writeTestPki(await createTestPki(), directory, "pw");
    const local = await createP12Signer({ credentials: { p12Path: pki.p12, password: "pw" } });
    let calls = 0;
    // The real signer, counted: every call here is one the signing service would bill.
    const counted: Signer = {
      describe: () => local.describe(),
      estimateCmsSize: (level) => local.estimateCmsSize(level),
      sign: async (request) => {
        calls++;
        await new Promise((done) => setTimeout(done, 300)); // a remote call takes a while
        return local.sign(request);
      },
    };
    const entry = {
      profile: "seal",
      backend: "csc",
      remote: true,
      signer: counted,
      contentsSize: undefined,
      documentTimestamper: undefined,
      describe: () => local.describe(),
    } as SignerEntry;
    const digest = createHash("sha256").update("the prepared revision").digest("hex");
    // Only what signing reads: the digest, its algorithm and the level (no revision is embedded here).
    const prepared = { digest, digestAlgorithm: "sha256", level: "B-B" } as Prepared;
    const target = { queue: "esign-sign", jobId: "job-1", entry };

    const [first, second] = await Promise.all([
      workerProcess().sign(target, prepared),
      workerProcess().sign(target, prepared),
    ]);
    expect(calls).toBe(1);
    expect(second.cmsBase64).toBe(first.cmsBase64);
  });
});
