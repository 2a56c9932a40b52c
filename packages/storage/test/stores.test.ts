import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { EsignError } from "@esign/errors";
import { BufferSource } from "@esign/pdf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockCachedSource, LocalStore, MIN_PART_SIZE, type ObjectStore, S3Store } from "../src";
import { startS3 } from "./s3-server";

interface Backend {
  name: string;
  /** What a source opened before its object was replaced does on its next uncached read. */
  afterReplacement: "fails" | "reads-old-bytes";
  start(): Promise<{ store: ObjectStore; stop(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "s3 (s3rver over HTTP)",
    afterReplacement: "fails",
    async start() {
      const s3 = await startS3();
      // Small blocks so the tests cross block boundaries with modest files.
      const store = new S3Store("s3", s3.config({ partSize: MIN_PART_SIZE }), {
        blockCache: { blockSize: 64 * 1024, maxBlocks: 8 },
      });
      return {
        store,
        async stop() {
          await store.close();
          await s3.stop();
        },
      };
    },
  },
  {
    name: "local directory",
    afterReplacement: "reads-old-bytes",
    async start() {
      const root = await mkdtemp(join(tmpdir(), "esign-local-store-"));
      return {
        store: new LocalStore("local", { type: "local", root }),
        stop: () => rm(root, { recursive: true, force: true }),
      };
    },
  },
];

/** Yields `bytes` in irregular chunk sizes, like a network stream would. */
async function* irregularChunks(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  const sizes = [1, 7, 65_536, 1_000_003, 333];
  for (let offset = 0, turn = 0; offset < bytes.length; turn++) {
    const size = sizes[turn % sizes.length]!;
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}

/** Yields `healthyBytes` and then fails, like a source connection dropping mid-transfer. */
async function* failingAfter(healthyBytes: number): AsyncIterable<Uint8Array> {
  const chunk = randomBytes(1024 * 1024);
  for (let sent = 0; sent < healthyBytes; sent += chunk.length) yield chunk;
  throw new Error("source connection reset");
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(EsignError);
  expect((error as EsignError).code).toBe(code);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe.each(backends)("object store contract: $name", (backend) => {
  let store: ObjectStore;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ store, stop } = await backend.start());
  });
  afterAll(async () => {
    await stop();
  });

  it("round-trips a multi-megabyte random file byte for byte", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const written = await store.write("roundtrip/random.bin", irregularChunks(data));
    expect(written).toMatchObject({ key: "roundtrip/random.bin", size: data.length, sha256: sha256(data) });

    const info = await store.stat("roundtrip/random.bin");
    expect(info).toEqual({ size: data.length, etag: written.etag });
    const source = await store.openSource("roundtrip/random.bin");
    expect(source.size).toBe(data.length);
    expect(Buffer.from(await source.read(0, data.length)).equals(data)).toBe(true);
    await source.close?.();
  });

  it("streams a multipart upload larger than the part size", async () => {
    const data = randomBytes(2 * MIN_PART_SIZE + 12_345);
    const written = await store.write("multipart/large.bin", Readable.from(irregularChunks(data)), {
      contentType: "application/octet-stream",
    });
    expect(written.size).toBe(data.length);
    expect(written.sha256).toBe(sha256(data));
    const source = await store.openSource("multipart/large.bin");
    const copy = Buffer.concat(
      await Promise.all(Array.from({ length: 4 }, (_, part) => source.read(part * 3_000_000, 3_000_000))),
    );
    expect(copy.equals(data)).toBe(true);
    await source.close?.();
  });

  it("serves ranged reads at odd offsets, across blocks and past the end", async () => {
    const data = randomBytes(700_001);
    await store.write("ranges/doc.bin", irregularChunks(data));
    const source = await store.openSource("ranges/doc.bin");
    const probes: [number, number][] = [
      [0, 1],
      [1, 3],
      [65_535, 2],
      [65_536 * 3 - 5, 11],
      [131_071, 200_000],
      [699_990, 100],
      [700_000, 1],
      [700_001, 10],
      [12_345, 0],
    ];
    for (let i = 0; i < 40; i++) probes.push([Math.floor(Math.random() * 700_001), 1 + ((i * 7919) % 9000)]);
    for (const [offset, length] of probes) {
      const got = await source.read(offset, length);
      expect(
        Buffer.from(got).equals(data.subarray(offset, offset + length)),
        `read(${offset}, ${length})`,
      ).toBe(true);
    }
    await source.close?.();
  });

  it("lists a prefix across pages in key order, and resumes after a key", async () => {
    const keys = [
      "batch/a.pdf",
      "batch/b/c.pdf",
      "batch/b/d.pdf",
      "batch/bz.pdf",
      "batch/e.pdf",
      "batch/ü.pdf",
    ];
    for (const key of [...keys, "batchx/other.pdf", "elsewhere/f.pdf"]) {
      await store.write(key, [Buffer.from(key)]);
    }
    const listed = await collect(store.list("batch/", { pageSize: 2 }));
    expect(listed.map((entry) => entry.key)).toEqual(keys);
    expect(listed[0]).toMatchObject({ size: Buffer.byteLength("batch/a.pdf") });
    expect(listed[0]!.lastModified).toBeInstanceOf(Date);

    const resumed = await collect(store.list("batch/", { pageSize: 2, startAfter: "batch/b/c.pdf" }));
    expect(resumed.map((entry) => entry.key)).toEqual(keys.slice(2));
    const partial = await collect(store.list("batch/b"));
    expect(partial.map((entry) => entry.key)).toEqual(["batch/b/c.pdf", "batch/b/d.pdf", "batch/bz.pdf"]);
    expect(await collect(store.list("nothing-here/"))).toEqual([]);
  });

  it("reports missing objects as E_NOT_FOUND", async () => {
    await expectCode(store.stat("missing/x.pdf"), "E_NOT_FOUND");
    await expectCode(store.openSource("missing/x.pdf"), "E_NOT_FOUND");
    await expectCode(store.read("missing/x.pdf"), "E_NOT_FOUND");
    expect(await store.exists("missing/x.pdf")).toBe(false);
    await expect(store.delete("missing/x.pdf")).resolves.toBeUndefined();
  });

  it("deletes objects and answers exists", async () => {
    await store.write("deleting/x.bin", [Buffer.from("x")]);
    expect(await store.exists("deleting/x.bin")).toBe(true);
    await store.delete("deleting/x.bin");
    expect(await store.exists("deleting/x.bin")).toBe(false);
  });

  it("refuses keys that escape the store or are malformed", async () => {
    for (const key of ["../outside.pdf", "a/../../outside.pdf", "/etc/passwd", "a\\..\\b", "C:/x", "./a"]) {
      await expectCode(store.stat(key), "E_FORBIDDEN");
      await expectCode(store.write(key, [Buffer.from("x")]), "E_FORBIDDEN");
      await expectCode(store.openSource(key), "E_FORBIDDEN");
    }
    for (const key of ["", "a\u0000b", "a//b", "dir/", "k".repeat(1025)]) {
      await expectCode(store.write(key, [Buffer.from("x")]), "E_INVALID_JOB");
    }
    await expectCode(collect(store.list("../")), "E_FORBIDDEN");
  });

  it("reads small objects whole and refuses large ones", async () => {
    const manifest = Buffer.from(JSON.stringify({ files: ["a.pdf", "b.pdf"] }));
    await store.write("manifests/m.json", [manifest], { contentType: "application/json" });
    expect(Buffer.from(await store.read("manifests/m.json")).equals(manifest)).toBe(true);
    await expectCode(store.read("manifests/m.json", { maxBytes: 10 }), "E_TOO_LARGE");
  });

  it("leaves no partial output when the source fails midway", async () => {
    await expectCode(store.write("atomic/new.bin", failingAfter(MIN_PART_SIZE + 1024 * 1024)), "E_STORAGE");
    expect(await store.exists("atomic/new.bin")).toBe(false);

    const previous = Buffer.from("the previous version");
    await store.write("atomic/existing.bin", [previous]);
    await expectCode(store.write("atomic/existing.bin", failingAfter(2 * 1024 * 1024)), "E_STORAGE");
    expect(Buffer.from(await store.read("atomic/existing.bin")).equals(previous)).toBe(true);
    expect((await collect(store.list("atomic/"))).map((entry) => entry.key)).toEqual(["atomic/existing.bin"]);
  });

  it("passes the source's own EsignError through unchanged", async () => {
    // E.g. an upload checker refusing an oversized body: the caller must see E_TOO_LARGE, not E_STORAGE.
    async function* tooLarge(): AsyncIterable<Uint8Array> {
      yield randomBytes(1024);
      throw new EsignError("E_TOO_LARGE", "over the upload limit");
    }
    await expectCode(store.write("atomic/too-large.pdf", tooLarge()), "E_TOO_LARGE");
    expect(await store.exists("atomic/too-large.pdf")).toBe(false);
  });

  it("writes a signed output as the input bytes followed by the revision", async () => {
    const input = randomBytes(2_500_000);
    const revision = Buffer.from("\n1 0 obj\n<< /Type /Sig >>\nendobj\n%%EOF\n");
    await store.write("in/contract.pdf", [input]);
    const source = await store.openSource("in/contract.pdf");
    const written = await store.writeSignedOutput("signed/in/contract.pdf", source, revision);
    const expected = Buffer.concat([input, revision]);
    expect(written).toMatchObject({ size: expected.length, sha256: sha256(expected) });
    const output = await store.openSource("signed/in/contract.pdf");
    expect(Buffer.from(await output.read(0, output.size)).equals(expected)).toBe(true);

    await expectCode(store.writeSignedOutput("in/contract.pdf", source, revision), "E_FORBIDDEN");
    expect(Buffer.from(await store.read("in/contract.pdf", { maxBytes: 3_000_000 })).equals(input)).toBe(
      true,
    );
    await source.close?.();
    await output.close?.();

    // Any ByteSource works as the input, e.g. a document that came in over HTTP.
    const fromMemory = await store.writeSignedOutput("signed/memory.pdf", new BufferSource(input), revision);
    expect(fromMemory.sha256).toBe(sha256(expected));
  });

  it("stores no signed output that its check refuses, and keeps an older object in place", async () => {
    const input = randomBytes(40_000);
    const revision = Buffer.from("\n% revision\n");
    const seen: number[] = [];
    const refusing = {
      update: (chunk: Uint8Array) => void seen.push(chunk.length),
      final: () => {
        throw new EsignError("E_VERIFY", "refused");
      },
    };
    await expectCode(
      store.writeSignedOutput("checked/new.pdf", new BufferSource(input), revision, refusing),
      "E_VERIFY",
    );
    expect(seen.reduce((sum, length) => sum + length, 0)).toBe(input.length + revision.length);
    expect(await store.exists("checked/new.pdf")).toBe(false);
    await store.write("checked/old.pdf", [Buffer.from("old")]);
    await expectCode(
      store.writeSignedOutput("checked/old.pdf", new BufferSource(input), revision, refusing),
      "E_VERIFY",
    );
    expect(Buffer.from(await store.read("checked/old.pdf")).toString()).toBe("old");
    const accepting = { update: () => undefined, final: () => undefined };
    const written = await store.writeSignedOutput(
      "checked/new.pdf",
      new BufferSource(input),
      revision,
      accepting,
    );
    expect(written.size).toBe(input.length + revision.length);
  });

  it("never lets a reader mix bytes of two versions of an object", async () => {
    const original = randomBytes(600_000);
    await store.write("replaced/doc.pdf", [original]);
    const source = await store.openSource("replaced/doc.pdf");
    expect(Buffer.from(await source.read(0, 10)).equals(original.subarray(0, 10))).toBe(true);

    await store.write("replaced/doc.pdf", [randomBytes(600_000)]);
    const lateRead = source.read(500_000, 10);
    if (backend.afterReplacement === "fails") {
      await expectCode(lateRead, "E_STORAGE");
    } else {
      expect(Buffer.from(await lateRead).equals(original.subarray(500_000, 500_010))).toBe(true);
    }
    await source.close?.();
  });
});

describe("S3 specifics", () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3.stop();
  });

  /** Records the S3 commands a store sends, by watching its real client. */
  function recordCommands(store: S3Store): string[] {
    const sent: string[] = [];
    store.client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(context.commandName!);
        return next(args);
      },
      { step: "initialize" },
    );
    return sent;
  }

  it("turns many small reads into few range requests", async () => {
    const store = new S3Store("s3", s3.config(), { blockCache: { blockSize: 64 * 1024, maxBlocks: 4 } });
    const data = randomBytes(1024 * 1024);
    await store.write("cache/doc.pdf", [data]);
    const source = await store.openSource("cache/doc.pdf");
    expect(source).toBeInstanceOf(BlockCachedSource);
    const stats = (source as BlockCachedSource).stats;

    for (let offset = 1024 * 1024 - 1; offset > 1024 * 1024 - 64 * 1024; offset -= 97) {
      expect((await source.read(offset, 1))[0]).toBe(data[offset]);
    }
    expect(stats.requests).toBe(1);
    // A large sequential read bypasses the cache instead of evicting the hot tail block.
    await source.read(0, 512 * 1024);
    await source.read(1024 * 1024 - 10, 10);
    expect(stats.requests).toBe(2);
    await store.close();
  });

  it("opens a small document with one GET that also serves every later read, and an empty one too", async () => {
    const store = new S3Store("s3", s3.config());
    const data = randomBytes(31 * 1024);
    await store.write("open/small.pdf", [data]);
    await store.write("open/empty.pdf", []);
    const sent = recordCommands(store);
    const source = await store.openSource("open/small.pdf");
    expect(source.size).toBe(data.length);
    expect(Buffer.from(await source.read(data.length - 100, 100))).toEqual(data.subarray(-100));
    expect(Buffer.from(await source.read(0, data.length))).toEqual(data);
    expect(sent).toEqual(["GetObjectCommand"]);
    expect((source as BlockCachedSource).stats.requests).toBe(0);
    const empty = await store.openSource("open/empty.pdf");
    expect(empty.size).toBe(0);
    expect(empty.etag).toBe((await store.stat("open/empty.pdf")).etag);
    expect(source.etag).toBe((await store.stat("open/small.pdf")).etag);
    await store.close();
  });

  it("uploads large objects in parts and aborts a failed multipart upload", async () => {
    const store = new S3Store("s3", s3.config({ partSize: MIN_PART_SIZE }));
    const sent = recordCommands(store);
    await store.write("parts/ok.bin", irregularChunks(randomBytes(2 * MIN_PART_SIZE + 1)));
    expect(sent.filter((name) => name === "UploadPartCommand")).toHaveLength(3);
    expect(sent).toContain("CompleteMultipartUploadCommand");

    sent.length = 0;
    await expectCode(store.write("parts/broken.bin", failingAfter(2 * MIN_PART_SIZE)), "E_STORAGE");
    expect(sent).toContain("AbortMultipartUploadCommand");
    expect(sent).not.toContain("CompleteMultipartUploadCommand");
    await store.close();
  });

  it("keeps keys under the configured prefix", async () => {
    const tenant = new S3Store("tenant", s3.config({ prefix: "tenants/acme" }));
    const whole = new S3Store("whole", s3.config());
    await tenant.write("in/a.pdf", [Buffer.from("acme")]);
    expect(Buffer.from(await whole.read("tenants/acme/in/a.pdf")).toString()).toBe("acme");
    expect((await collect(tenant.list("in/"))).map((entry) => entry.key)).toEqual(["in/a.pdf"]);
    await Promise.all([tenant.close(), whole.close()]);
  });

  it("reports an unreachable endpoint as a transient E_STORAGE", async () => {
    const store = new S3Store("down", { ...s3.config(), endpoint: "http://127.0.0.1:1" });
    const error = await store.stat("x.pdf").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EsignError);
    expect(error).toMatchObject({ code: "E_STORAGE", permanent: false });
    await store.close();
  });
});

describe("local store specifics", () => {
  it("lists in UTF-8 byte order of keys, like S3, not in directory-walk order", async () => {
    const root = await mkdtemp(join(tmpdir(), "esign-local-order-"));
    const store = new LocalStore("local", { type: "local", root });
    // "-" (0x2d) sorts before "/" (0x2f): S3 lists "b-1" between "a" and "b/c".
    for (const key of ["b/c.pdf", "b-1.pdf", "a.pdf", "b.pdf", "b/a/z.pdf"])
      await store.write(key, [Buffer.from(key)]);
    const keys = (await collect(store.list(""))).map((entry) => entry.key);
    expect(keys).toEqual(["a.pdf", "b-1.pdf", "b.pdf", "b/a/z.pdf", "b/c.pdf"]);
    await rm(root, { recursive: true, force: true });
  });

  it("leaves no temporary files behind after a failed write", async () => {
    const root = await mkdtemp(join(tmpdir(), "esign-local-partial-"));
    const store = new LocalStore("local", { type: "local", root });
    await store.write(`out/${randomUUID()}.pdf`, [Buffer.from("done")]);
    await expectCode(store.write("out/failed.pdf", failingAfter(3 * 1024 * 1024)), "E_STORAGE");
    const names = await readdir(join(root, "out"));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/\.pdf$/);
    // The temporary-file suffix is reserved, so listings can skip such files without hiding objects.
    await expectCode(store.write("out/x.esign-partial", [Buffer.from("x")]), "E_INVALID_JOB");
    await rm(root, { recursive: true, force: true });
  });

  it("refuses outputs under a file or over a folder as E_INVALID_JOB at submission; at writing they are a storage failure to retry", async () => {
    const root = await mkdtemp(join(tmpdir(), "esign-local-writable-"));
    const store = new LocalStore("local", { type: "local", root });
    await store.write("out/a.pdf", [Buffer.from("a")]);
    await expectCode(store.checkWritable("out/a.pdf/b.pdf"), "E_INVALID_JOB");
    await expectCode(store.checkWritable("out"), "E_INVALID_JOB");
    await expectCode(store.write("out/a.pdf/b.pdf", [Buffer.from("b")]), "E_STORAGE");
    await store.checkWritable("out/b.pdf");
    await store.checkWritable("new/folder/c.pdf");
    await rm(root, { recursive: true, force: true });
  });

  it("creates documents 0600 and the folders it makes 0700, whatever the process umask allows", async () => {
    const parent = await mkdtemp(join(tmpdir(), "esign-local-modes-"));
    const root = join(parent, "store");
    const store = new LocalStore("local", { type: "local", root });
    const previousUmask = process.umask(0o002);
    try {
      await store.write("tenant/in/doc.pdf", [Buffer.from("first")]);
      await store.write("tenant/in/doc.pdf", [Buffer.from("replaced")]);
    } finally {
      process.umask(previousUmask);
    }
    const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
    expect(await modeOf(join(root, "tenant/in/doc.pdf"))).toBe(0o600);
    for (const folder of ["", "tenant", "tenant/in"]) expect(await modeOf(join(root, folder))).toBe(0o700);
    await rm(parent, { recursive: true, force: true });
  });

  it("reads a small document whole when it is opened: later replacement or deletion changes nothing", async () => {
    const root = await mkdtemp(join(tmpdir(), "esign-local-small-"));
    const store = new LocalStore("local", { type: "local", root });
    const original = randomBytes(31_000);
    await store.write("in/invoice.pdf", [original]);
    const descriptorsBefore = (await readdir("/proc/self/fd")).length;
    const source = await store.openSource("in/invoice.pdf");
    // Read once, from the descriptor it checked, which is closed again.
    expect((await readdir("/proc/self/fd")).length).toBe(descriptorsBefore);
    await store.write("in/invoice.pdf", [randomBytes(31_000)]);
    await store.delete("in/invoice.pdf");
    expect(source.size).toBe(original.length);
    expect(Buffer.from(await source.read(0, original.length)).equals(original)).toBe(true);
    expect(Buffer.from(await source.read(30_990, 100)).equals(original.subarray(30_990))).toBe(true);
    expect(source).toMatchObject({ store: "local", key: "in/invoice.pdf" });
    await source.close?.();
    await rm(root, { recursive: true, force: true });
  });

  it("never names the server's absolute path in a storage error", async () => {
    const root = await mkdtemp(join(tmpdir(), "esign-local-paths-"));
    const store = new LocalStore("local", { type: "local", root });
    // A path segment longer than the filesystem allows: the OS error names the full path.
    const error = await store.stat(`${"x".repeat(300)}.pdf`).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EsignError);
    expect((error as EsignError).code).toBe("E_STORAGE");
    expect((error as EsignError).message).toContain("ENAMETOOLONG");
    expect((error as EsignError).message).not.toContain(root);
    await rm(root, { recursive: true, force: true });
  });
});
