import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { describe, expect, it } from "vitest";
import {
  assertAllowed,
  assertValidKey,
  createStores,
  DEFAULT_STORE,
  defaultStoresConfig,
  LocalStore,
  ObjectRefSchema,
  S3Store,
  TenantStoragePolicySchema,
} from "../src";

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof EsignError ? error.code : `not an EsignError: ${String(error)}`;
  }
}

describe("object keys", () => {
  it("accepts ordinary keys, including unicode and dots inside names", () => {
    for (const key of ["a.pdf", "in/2024/contract v2.pdf", "tenant/ü/ß.pdf", "a..b/c...pdf", ".hidden/x"]) {
      expect(
        codeOf(() => assertValidKey(key)),
        key,
      ).toBeUndefined();
    }
  });

  it("forbids keys that could escape a root or prefix", () => {
    for (const key of ["..", "../a", "a/..", "a/../b", "/abs", "a\\b", "C:x", "./a", "a/./b"]) {
      expect(
        codeOf(() => assertValidKey(key)),
        key,
      ).toBe("E_FORBIDDEN");
    }
  });

  it("rejects malformed keys as invalid input", () => {
    // ".esign-partial" is the local store's temporary-file suffix, reserved in every store.
    for (const key of [
      "",
      "a\u0000",
      "line\nbreak",
      "a//b",
      "dir/",
      "é".repeat(513),
      "out/x.esign-partial",
    ]) {
      expect(
        codeOf(() => assertValidKey(key)),
        JSON.stringify(key),
      ).toBe("E_INVALID_JOB");
    }
    expect(codeOf(() => assertValidKey("é".repeat(512)))).toBeUndefined();
  });

  it("validates object references with the same rules", () => {
    expect(ObjectRefSchema.parse({ store: "default", key: "in/a.pdf" })).toEqual({
      store: "default",
      key: "in/a.pdf",
    });
    expect(ObjectRefSchema.safeParse({ store: "default", key: "../a.pdf" }).success).toBe(false);
    expect(ObjectRefSchema.safeParse({ store: "no spaces", key: "a.pdf" }).success).toBe(false);
    expect(ObjectRefSchema.safeParse({ store: "default", key: "a.pdf", extra: 1 }).success).toBe(false);
  });
});

describe("tenant allow-list", () => {
  const policy = { stores: { default: ["acme/in/", "acme/out/"], archive: [""] } };

  it("allows keys under a listed prefix and whole stores listed with an empty prefix", () => {
    expect(codeOf(() => assertAllowed({ store: "default", key: "acme/in/a.pdf" }, policy))).toBeUndefined();
    expect(
      codeOf(() => assertAllowed({ store: "archive", key: "anything/at/all.pdf" }, policy)),
    ).toBeUndefined();
  });

  it("forbids other prefixes, other stores and traversal out of an allowed prefix", () => {
    expect(codeOf(() => assertAllowed({ store: "default", key: "globex/in/a.pdf" }, policy))).toBe(
      "E_FORBIDDEN",
    );
    expect(codeOf(() => assertAllowed({ store: "other", key: "acme/in/a.pdf" }, policy))).toBe("E_FORBIDDEN");
    expect(codeOf(() => assertAllowed({ store: "default", key: "acme/in/../../globex/a.pdf" }, policy))).toBe(
      "E_FORBIDDEN",
    );
    expect(codeOf(() => assertAllowed({ store: "toString", key: "a.pdf" }, policy))).toBe("E_FORBIDDEN");
  });

  it("parses policies from configuration", () => {
    expect(TenantStoragePolicySchema.parse(policy)).toEqual(policy);
    expect(TenantStoragePolicySchema.safeParse({ stores: { "bad name": ["x/"] } }).success).toBe(false);
  });
});

describe("store registry", () => {
  it("builds the configured stores by name", async () => {
    const root = await mkdtemp(join(tmpdir(), "esign-registry-"));
    const stores = createStores({
      files: { type: "local", root },
      bucket: {
        type: "s3",
        region: "eu-west-1",
        bucket: "docs",
        endpoint: "http://127.0.0.1:9",
        forcePathStyle: true,
      },
    });
    expect(stores.names().sort()).toEqual(["bucket", "files"]);
    expect(stores.get("files")).toBeInstanceOf(LocalStore);
    expect(stores.get("bucket")).toBeInstanceOf(S3Store);
    const { store, key } = stores.resolve({ store: "files", key: "in/a.pdf" });
    await store.write(key, [Buffer.from("hello")]);
    expect(Buffer.from(await stores.get("files").read("in/a.pdf")).toString()).toBe("hello");
    expect(codeOf(() => stores.get("nope"))).toBe("E_INVALID_JOB");
    expect(codeOf(() => stores.resolve({ store: "files", key: "../etc/passwd" }))).toBe("E_FORBIDDEN");
    await stores.close();
    await rm(root, { recursive: true, force: true });
  });

  it("refuses invalid configuration", () => {
    expect(codeOf(() => createStores({ x: { type: "local", root: "" } }))).toBe("E_CONFIG");
    // @ts-expect-error: an unknown store type is exactly what the check is for
    expect(codeOf(() => createStores({ x: { type: "ftp", root: "/srv" } }))).toBe("E_CONFIG");
    expect(codeOf(() => createStores({ x: { type: "s3", region: "r", bucket: "b", partSize: 1024 } }))).toBe(
      "E_CONFIG",
    );
  });

  it("defaults to one local store under the data directory", () => {
    expect(defaultStoresConfig("/var/lib/esign")).toEqual({
      [DEFAULT_STORE]: { type: "local", root: "/var/lib/esign/objects" },
    });
  });
});
