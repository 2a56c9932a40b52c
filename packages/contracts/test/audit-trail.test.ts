import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { LocalStore, type ObjectStore, S3Store } from "@esign/storage";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningS3, startS3 } from "../../storage/test/s3-server";
import { type AuditEntry, AuditTrail, canonicalJson, GENESIS_HASH } from "../src";

const redis = new Redis({ host: "127.0.0.1", port: 6379 });
const keyPrefix = `test-audit-${randomUUID()}`;
let root: string;
let store: LocalStore;

function trailOver(target: ObjectStore, connection: Redis = redis): AuditTrail {
  return new AuditTrail({
    redis: connection,
    keyPrefix,
    store: target,
    folderOf: (contractId) => ({ store: target.name, key: `tenants/acme/contracts/${contractId}` }),
  });
}

const entryPath = (contractId: string, seq: number) =>
  join(root, `tenants/acme/contracts/${contractId}/audit/${String(seq).padStart(8, "0")}.json`);

/** `entry` with its hash recomputed, as an attacker who read the code would. */
function resealed(entry: AuditEntry): AuditEntry {
  const { hash: _hash, ...unsealed } = entry;
  return { ...unsealed, hash: createHash("sha256").update(canonicalJson(unsealed)).digest("hex") };
}

/** A contract with `count` entries, appended one after the other. */
async function contractWith(count: number): Promise<string> {
  const contractId = randomUUID();
  const trail = trailOver(store);
  await trail.append(contractId, { type: "created", details: { title: "Lease 劳动合同", signers: 2 } });
  for (let index = 2; index <= count; index++) {
    await trail.append(contractId, {
      type: index % 2 ? "viewed" : "otp.sent",
      signerId: `s${index}`,
      ip: "203.0.113.7",
      userAgent: "Mozilla/5.0",
    });
  }
  return contractId;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "esign-audit-"));
  store = new LocalStore("default", { type: "local", root });
});

afterAll(async () => {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${keyPrefix}:*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  await redis.quit();
  await rm(root, { recursive: true, force: true });
});

describe("AuditTrail", () => {
  it("chains entries: seq, prev, hash, all fields, one object per entry", async () => {
    const trail = trailOver(store);
    const contractId = randomUUID();
    const first = await trail.append(contractId, { type: "created", details: { title: "NDA" } });
    const second = await trail.append(contractId, {
      type: "signed",
      signerId: "alice",
      ip: "198.51.100.1",
      userAgent: "curl/8",
      details: { digest: "ab".repeat(32), certificate: "CN=Alice" },
    });
    expect(first).toMatchObject({ seq: 1, type: "created", contractId, prev: GENESIS_HASH });
    expect(second).toMatchObject({ seq: 2, prev: first.hash, signerId: "alice", ip: "198.51.100.1" });
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(second.at)).toBeGreaterThanOrEqual(Date.parse(first.at));
    expect(await trail.read(contractId)).toEqual([first, second]);
    expect(JSON.parse(await readFile(entryPath(contractId, 2), "utf8"))).toEqual(second);
    expect(await trail.verify(contractId)).toEqual({ valid: true, entries: 2, head: second.hash });
  });

  it("an unknown contract has an empty, valid trail", async () => {
    const trail = trailOver(store);
    expect(await trail.read("nobody")).toEqual([]);
    expect(await trail.verify("nobody")).toEqual({ valid: true, entries: 0, head: GENESIS_HASH });
  });

  it("refuses event types outside the catalogue", async () => {
    const error = await trailOver(store)
      .append(randomUUID(), { type: "hacked" as "created" })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EsignError);
    expect((error as EsignError).code).toBe("E_INTERNAL");
  });

  it("refuses a contract folder in another store before the head moves (E_CONFIG)", async () => {
    const contractId = randomUUID();
    const misplaced = new AuditTrail({
      redis,
      keyPrefix,
      store,
      folderOf: (id) => ({ store: "archive", key: `contracts/${id}` }),
    });
    await expect(misplaced.append(contractId, { type: "created" })).rejects.toMatchObject({
      code: "E_CONFIG",
    });
    expect(await redis.exists(`${keyPrefix}:audit:${contractId}:head`)).toBe(0);
  });

  it("appends made at once through one instance land in call order", async () => {
    const trail = trailOver(store);
    const contractId = randomUUID();
    const appended = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        trail.append(contractId, { type: "viewed", details: { index } }),
      ),
    );
    expect(appended.map((entry) => [entry.seq, entry.details!.index])).toEqual(
      Array.from({ length: 20 }, (_, index) => [index + 1, index]),
    );
  });

  it("50 concurrent appends from 5 Redis connections form one chain", async () => {
    const connections = Array.from({ length: 5 }, () => new Redis({ host: "127.0.0.1", port: 6379 }));
    try {
      const contractId = randomUUID();
      const trails = connections.map((connection) => trailOver(store, connection));
      const appended = await Promise.all(
        Array.from({ length: 50 }, (_, index) =>
          trails[index % trails.length]!.append(contractId, { type: "viewed", details: { index } }),
        ),
      );
      expect(appended.map((entry) => entry.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, index) => index + 1),
      );
      const entries = await trailOver(store).read(contractId);
      expect(entries).toHaveLength(50);
      entries.forEach((entry, index) => {
        expect(entry.seq).toBe(index + 1);
        expect(entry.prev).toBe(index === 0 ? GENESIS_HASH : entries[index - 1]!.hash);
      });
      // Every append's own details are in the trail exactly once.
      expect(entries.map((entry) => entry.details!.index).sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: 50 }, (_, index) => index),
      );
      expect(await trailOver(store).verify(contractId)).toEqual({
        valid: true,
        entries: 50,
        head: entries[49]!.hash,
      });
    } finally {
      await Promise.all(connections.map((connection) => connection.quit()));
    }
  });

  it("an entry whose writer died before the store write is written by the next reader", async () => {
    // The store refuses one write, as if the process had died between Redis and the store.
    let refuse = true;
    const failing = Object.assign(Object.create(store) as LocalStore, {
      write: async (...args: Parameters<LocalStore["write"]>) => {
        if (refuse) {
          refuse = false;
          throw new EsignError("E_STORAGE", "disk gone");
        }
        return store.write(...args);
      },
    });
    const contractId = await contractWith(2);
    const recorded = await trailOver(failing).append(contractId, { type: "signed", signerId: "bob" });
    expect(recorded.seq).toBe(3);
    await expect(readFile(entryPath(contractId, 3))).rejects.toThrow();
    const entries = await trailOver(store).read(contractId);
    expect(entries.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    expect(entries[2]).toEqual(recorded);
    expect((await trailOver(store).verify(contractId)).valid).toBe(true);
  });

  describe("detects tampering with the stored entries", () => {
    async function expectBroken(contractId: string, brokenAt: number, reason: RegExp) {
      const result = await trailOver(store).verify(contractId);
      expect(result).toMatchObject({ valid: false, entries: expect.any(Number), brokenAt });
      expect(result.reason).toMatch(reason);
    }

    it("an edited entry", async () => {
      const contractId = await contractWith(5);
      const path = entryPath(contractId, 3);
      const entry = JSON.parse(await readFile(path, "utf8")) as AuditEntry;
      await writeFile(path, JSON.stringify({ ...entry, ip: "192.0.2.66" }));
      await expectBroken(contractId, 3, /changed/);
    });

    it("an edited entry with its hash recomputed", async () => {
      const contractId = await contractWith(5);
      const entries = await trailOver(store).read(contractId);
      await writeFile(
        entryPath(contractId, 3),
        JSON.stringify(resealed({ ...entries[2]!, ip: "192.0.2.66" })),
      );
      await expectBroken(contractId, 4, /does not follow entry 3/);
    });

    it("the whole chain rewritten consistently from an edited entry on", async () => {
      const contractId = await contractWith(4);
      // A consistent chain of the same length for this contract id, built through a second trail
      // (another Redis prefix), copied over the stored objects: only the head in Redis tells.
      const shadow = new AuditTrail({
        redis,
        keyPrefix: `${keyPrefix}-shadow`,
        store,
        folderOf: (id) => ({ store: "default", key: `shadow/${id}` }),
      });
      for (let index = 0; index < 4; index++) await shadow.append(contractId, { type: "viewed" });
      for (let seq = 1; seq <= 4; seq++) {
        const forged = await readFile(
          join(root, `shadow/${contractId}/audit/${String(seq).padStart(8, "0")}.json`),
        );
        await writeFile(entryPath(contractId, seq), forged);
      }
      await expectBroken(contractId, 4, /head/);
      await redis.del(`${keyPrefix}-shadow:audit:${contractId}:head`);
    });

    it("a deleted entry", async () => {
      const contractId = await contractWith(5);
      await unlink(entryPath(contractId, 2));
      await expectBroken(contractId, 2, /missing/);
      // Reading does not resurrect it: it was written once, so its absence is tampering.
      await trailOver(store).read(contractId);
      await expectBroken(contractId, 2, /missing/);
    });

    it("reordered entries", async () => {
      const contractId = await contractWith(5);
      const [third, fourth] = await Promise.all([
        readFile(entryPath(contractId, 3)),
        readFile(entryPath(contractId, 4)),
      ]);
      await writeFile(entryPath(contractId, 3), fourth);
      await writeFile(entryPath(contractId, 4), third);
      await expectBroken(contractId, 3, /says it is entry 4/);
    });

    it("a truncated trail", async () => {
      const contractId = await contractWith(5);
      await unlink(entryPath(contractId, 5));
      await unlink(entryPath(contractId, 4));
      await expectBroken(contractId, 4, /ends at entry 3; it has 5/);
    });

    it("an entry added to the store", async () => {
      const contractId = await contractWith(3);
      const entries = await trailOver(store).read(contractId);
      // A well-formed fourth entry, hash and all: only the head in Redis says there are three.
      await writeFile(
        entryPath(contractId, 4),
        JSON.stringify(resealed({ ...entries[2]!, seq: 4, prev: entries[2]!.hash })),
      );
      await expectBroken(contractId, 4, /added/);
    });

    it("an entry that is not JSON", async () => {
      const contractId = await contractWith(3);
      await writeFile(entryPath(contractId, 1), "{not json");
      await expectBroken(contractId, 1, /well-formed/);
      await expect(trailOver(store).read(contractId)).rejects.toMatchObject({ code: "E_VERIFY" });
    });
  });
});

describe("AuditTrail over S3 (s3rver)", () => {
  let s3: RunningS3;
  let s3Store: S3Store;

  beforeAll(async () => {
    s3 = await startS3();
    s3Store = new S3Store("s3", s3.config());
  });
  afterAll(async () => {
    await s3Store.close();
    await s3.stop();
  });

  it("chains, verifies, and detects a deleted entry", async () => {
    const trail = trailOver(s3Store);
    const contractId = randomUUID();
    const appended: AuditEntry[] = [];
    for (const type of ["created", "sent", "viewed", "completed"] as const) {
      appended.push(await trail.append(contractId, { type }));
    }
    expect(await trail.read(contractId)).toEqual(appended);
    expect(await trail.verify(contractId)).toEqual({ valid: true, entries: 4, head: appended[3]!.hash });
    await s3Store.delete(`tenants/acme/contracts/${contractId}/audit/00000002.json`);
    expect(await trail.verify(contractId)).toMatchObject({ valid: false, brokenAt: 2 });
  });
});
