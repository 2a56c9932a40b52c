import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadLocalCredentials, parseCms } from "@esign/pades";
import { createTestPki, writeTestPki } from "@esign/pades/testing";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  CmsBuildingSigner,
  HashBatchingProvider,
  LocalKeyProvider,
  type RawSignatureProvider,
  withHashBatching,
} from "../src";

const PASSWORD = "p12 password";

/** The real local key, with a record of the calls that reach it (the batches that left). */
class RecordingProvider implements RawSignatureProvider {
  readonly calls: number[] = [];
  failNext: Error | undefined;
  constructor(private readonly inner: RawSignatureProvider) {}
  describe() {
    return this.inner.describe();
  }
  readonly keys: (string | undefined)[][] = [];
  async signHashes(
    hashes: Uint8Array[],
    toBeSigned: Uint8Array[],
    keys: readonly (string | undefined)[] = [],
  ) {
    this.calls.push(hashes.length);
    this.keys.push([...keys]);
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    return this.inner.signHashes(hashes, toBeSigned);
  }
}

/** The real local key behind a gate: each call waits until the test releases it. */
class GatedProvider implements RawSignatureProvider {
  readonly calls: number[] = [];
  private gates: (() => void)[] = [];
  constructor(private readonly inner: RawSignatureProvider) {}
  describe() {
    return this.inner.describe();
  }
  async signHashes(hashes: Uint8Array[], toBeSigned: Uint8Array[]) {
    this.calls.push(hashes.length);
    await new Promise<void>((open) => this.gates.push(open));
    return this.inner.signHashes(hashes, toBeSigned);
  }
  releaseAll() {
    for (const open of this.gates.splice(0)) open();
  }
  /** Resolves once `count` calls have reached the provider (turns of the event loop, not time). */
  async called(count: number) {
    for (let turn = 0; this.calls.length < count; turn++) {
      if (turn > 1_000) throw new Error(`only ${this.calls.length} of ${count} calls arrived`);
      await turns(1);
    }
  }
}

/** Lets `count` turns of the event loop pass (setImmediate is not faked). */
async function turns(count: number) {
  for (let turn = 0; turn < count; turn++) await new Promise((next) => setImmediate(next));
}

let key: LocalKeyProvider;

afterEach(() => {
  vi.useRealTimers();
});

beforeAll(async () => {
  const pki = await createTestPki({ keyType: "rsa", intermediate: false });
  const files = await writeTestPki(
    pki,
    join(tmpdir(), `esign-hash-batcher-${randomBytes(6).toString("hex")}`),
    PASSWORD,
  );
  key = new LocalKeyProvider(loadLocalCredentials({ p12: await readFile(files.p12), password: PASSWORD }));
});

const digestOf = (index: number) => createHash("sha256").update(`document ${index}`).digest();

describe("HashBatchingProvider", () => {
  it("merges concurrent jobs into calls of at most maxHashes, each job getting its own verified signature", async () => {
    const recording = new RecordingProvider(key);
    const signer = new CmsBuildingSigner({
      provider: new HashBatchingProvider(recording, { maxHashes: 10, maxWaitMs: 50 }),
    });
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, index) =>
        signer.sign({
          documentDigest: digestOf(index),
          digestAlgorithm: "sha256",
          level: "B-B",
          idempotencyKey: `job-${index}`,
        }),
      ),
    );
    // 25 jobs at once: two full batches leave at once, the remaining 5 when a call returns.
    expect(recording.calls).toEqual([10, 10, 5]);
    // Each hash travels with its job's idempotency key, so the batch's key is one of its contents.
    expect(recording.keys.flat()).toEqual(Array.from({ length: 25 }, (_, index) => `job-${index}`));
    // CmsBuildingSigner verified every signature against its own signed attributes; each CMS is distinct.
    expect(new Set(results.map(({ cms }) => Buffer.from(cms).toString("base64"))).size).toBe(25);
    for (const { cms } of results) expect(parseCms(cms)).toBeDefined();
  });

  it("sends the job of an idle system at once, and gathers a backlog while a call is under way", async () => {
    // Only the maxWaitMs timer is faked, and never advanced: nothing here can leave by waiting it out.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const gated = new GatedProvider(key);
    const batching = new HashBatchingProvider(gated, { maxHashes: 10, maxWaitMs: 5_000 });
    const sign = (index: number) => {
      const message = Buffer.from(`attributes ${index}`);
      return batching.signHashes([createHash("sha256").update(message).digest()], [message]);
    };

    // Idle: the single job's call leaves without waiting for company.
    const alone = sign(0);
    await gated.called(1);
    gated.releaseAll();
    expect((await alone).signatures).toHaveLength(1);
    expect(gated.calls).toEqual([1]);

    // A call under way: the jobs arriving meanwhile wait for it, then leave together in one call.
    const first = sign(1);
    await gated.called(2);
    const backlog = [2, 3, 4, 5, 6].map(sign);
    await turns(5);
    expect(gated.calls).toEqual([1, 1]);
    gated.releaseAll();
    await first;
    await gated.called(3);
    expect(gated.calls).toEqual([1, 1, 5]);
    gated.releaseAll();
    for (const answer of await Promise.all(backlog)) expect(answer.signatures).toHaveLength(1);

    // Still under way after maxWaitMs: the gathered jobs leave without it (the wait is bounded).
    const slow = sign(7);
    await gated.called(4);
    const late = [8, 9].map(sign);
    await turns(5);
    expect(gated.calls).toEqual([1, 1, 5, 1]);
    vi.advanceTimersByTime(5_000);
    await gated.called(5);
    expect(gated.calls).toEqual([1, 1, 5, 1, 2]);
    gated.releaseAll();
    await Promise.all([slow, ...late]);
  });

  it("sends a caller that fills a batch by itself straight through", async () => {
    const recording = new RecordingProvider(key);
    const batching = new HashBatchingProvider(recording, { maxHashes: 2, maxWaitMs: 1_000 });
    const messages = [0, 1, 2].map((index) => Buffer.from(`attributes ${index}`));
    const hashes = messages.map((message) => createHash("sha256").update(message).digest());
    const { signatures } = await batching.signHashes(hashes, messages);
    expect(recording.calls).toEqual([3]);
    expect(signatures).toHaveLength(3);
  });

  it("gives every caller of a failed batch the error", async () => {
    const recording = new RecordingProvider(key);
    recording.failNext = new Error("signing service down");
    const batching = new HashBatchingProvider(recording, { maxHashes: 3, maxWaitMs: 1_000 });
    const calls = [0, 1, 2].map((index) => {
      const message = Buffer.from(`attributes ${index}`);
      return batching.signHashes([createHash("sha256").update(message).digest()], [message]);
    });
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(recording.calls).toEqual([3]);
  });

  it("is off without options and refuses bad ones with E_CONFIG", () => {
    expect(withHashBatching(key, undefined)).toBe(key);
    expect(() => withHashBatching(key, { maxHashes: 1, maxWaitMs: 10 })).toThrow(
      expect.objectContaining({ code: "E_CONFIG" }),
    );
  });
});
