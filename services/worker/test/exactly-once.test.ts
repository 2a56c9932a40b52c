import { createHash, randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SigningUsageLedger } from "@esign/jobs";
import { createTestPki, writeTestPki } from "@esign/pades/testing";
import type { Prepared } from "@esign/pipeline";
import { createP12Signer, type Signer, type SignRequest } from "@esign/signers";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointStore } from "../src/checkpoints";
import { ExactlyOnceSigner, signCallIdempotencyKey } from "../src/exactly-once-signer";
import { createWorkerMetrics } from "../src/metrics";
import { SigningRateLimiter } from "../src/rate-limiter";
import type { SignerEntry } from "../src/signer-profiles";
import { SigningUsageCounter } from "../src/signing-usage";
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
  const metrics = createWorkerMetrics(() => []);
  return new ExactlyOnceSigner(
    new CheckpointStore(redis, prefix),
    new SigningRateLimiter(redis, { key: `${prefix}:limiter`, perSecond: undefined }),
    metrics,
    new SigningUsageCounter(new SigningUsageLedger(redis, prefix), metrics),
  );
}

describe("ExactlyOnceSigner", () => {
  it("pays once when two processes run the same job at the same time (a lost lock), keyed per job and digest and counted per profile", async () => {
    const directory = await mkdtemp(join(tmpdir(), "esign-once-"));
    const pki = await writeTestPki(await createTestPki(), directory, "pw");
    const local = await createP12Signer({ credentials: { p12Path: pki.p12, password: "pw" } });
    let calls = 0;
    const requests: SignRequest[] = [];
    // The real signer, counted: every call here is one the signing service would bill.
    const counted: Signer = {
      describe: () => local.describe(),
      estimateCmsSize: (level) => local.estimateCmsSize(level),
      sign: async (request) => {
        calls++;
        requests.push(request);
        await new Promise((done) => setTimeout(done, 300)); // a remote call takes a while
        return local.sign(request);
      },
    };
    const entry = {
      profile: "seal",
      backend: "csc",
      remote: true,
      idempotent: true,
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
    // The claim on the call went with the signature's checkpoint: nothing is left to run out.
    expect(await connections[0]!.keys(`${prefix}:*:calling:*`)).toEqual([]);

    // The call carried this job's and digest's key, a hash that names neither.
    const key = signCallIdempotencyKey(target, digest);
    expect(requests[0]!.idempotencyKey).toBe(key);
    expect(key).toMatch(/^esign-[0-9a-f]{64}$/);
    expect(signCallIdempotencyKey({ ...target, jobId: "job-2" }, digest)).not.toBe(key);
    expect(signCallIdempotencyKey(target, digest.replace(/^./, "0"))).not.toBe(key);

    // A profile whose service takes no key sends none.
    const other = { ...target, jobId: "job-3", entry: { ...entry, idempotent: false } };
    await workerProcess().sign(other, { ...prepared, digest: digest.replace(/^./, "1") });
    expect(requests[1]!.idempotencyKey).toBeUndefined();

    // Both paid calls counted for the profile in Redis, asked for and answered.
    const usage = await new SigningUsageLedger(connections[0]!, prefix).report();
    expect(usage.profiles.seal).toMatchObject({ calls: 2, answered: 2, replayed: 0, delivered: 0 });
  });
});
