import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  decimal,
  flag,
  integer,
  json,
  jsonFile,
  list,
  loadConfig,
  parseConfig,
  RedisUrlSchema,
  text,
} from "../src";

const dir = mkdtempSync(join(tmpdir(), "esign-runtime-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Schema = z.object({
  redisUrl: RedisUrlSchema,
  concurrency: z.int().min(1).default(8),
  hosts: z.array(z.string()).default([]),
  writable: z.boolean().default(false),
  tenants: z.record(z.string(), z.object({ secrets: z.array(z.string().startsWith("whsec_")) })),
  name: z.string().optional(),
});

const BINDINGS = {
  redisUrl: text("REDIS_URL"),
  concurrency: integer("CONCURRENCY"),
  hosts: list("ALLOW_HOSTS"),
  writable: flag("WRITABLE"),
  tenants: [json("SECRETS", { member: "tenants" }), jsonFile("SECRETS_FILE", { member: "tenants" })],
};

const SECRETS = { tenants: { acme: { secrets: ["whsec_c2VjcmV0"] } } };

function problemsOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toMatchObject({ code: "E_CONFIG" });
    return (error as Error).message;
  }
  throw new Error("expected E_CONFIG");
}

describe("decimal", () => {
  it("reads whole numbers and fractions, and refuses anything else without echoing it", () => {
    const hours = decimal("HOURS");
    expect(hours.read("72")).toEqual({ value: 72 });
    expect(hours.read(" 0.5 ")).toEqual({ value: 0.5 });
    expect(hours.read(".25")).toEqual({ value: 0.25 });
    expect(hours.read(String(2 / 3600))).toEqual({ value: 2 / 3600 });
    for (const bad of ["", "1e3", "1,5", "abc", "0x10"]) {
      expect(hours.read(bad)).toEqual({ problem: "must be a number" });
    }
  });
});

describe("loadConfig", () => {
  it("reads each bound variable into its field and fills the schema's defaults", () => {
    const config = loadConfig(Schema, BINDINGS, "test environment", {
      env: {
        SECRETS: JSON.stringify(SECRETS),
        ALLOW_HOSTS: " a.example, ,b.example",
        WRITABLE: "true",
        CONCURRENCY: "",
      },
    });
    expect(config).toEqual({
      redisUrl: "redis://127.0.0.1:6379",
      concurrency: 8,
      hosts: ["a.example", "b.example"],
      writable: true,
      tenants: SECRETS.tenants,
    });
  });

  it('reads JSON from a file named by {"file"}, by @path, or by a *_FILE variable', () => {
    const file = join(dir, "secrets.json");
    writeFileSync(file, JSON.stringify(SECRETS));
    for (const env of [
      { SECRETS: JSON.stringify({ file }) },
      { SECRETS: `@${file}` },
      { SECRETS_FILE: file },
    ]) {
      expect(loadConfig(Schema, BINDINGS, "test environment", { env }).tenants).toEqual(SECRETS.tenants);
    }
  });

  it("names every bad variable in one error, never quoting a value", () => {
    const message = problemsOf(() =>
      loadConfig(Schema, BINDINGS, "test environment", {
        env: {
          REDIS_URL: "http://whsec_leak@redis",
          CONCURRENCY: "0",
          WRITABLE: "perhaps",
          SECRETS: '{"tenants": {"acme": {"secrets": ["whsec_leak"',
        },
      }),
    );
    expect(message).toMatch(/^invalid test environment:\n/);
    expect(message).toContain("REDIS_URL: must be a redis:// or rediss:// URL");
    expect(message).toContain("CONCURRENCY: Too small");
    expect(message).toContain("WRITABLE: must be true or false");
    expect(message).toContain("SECRETS: is not valid JSON");
    expect(message).not.toContain("leak");
  });

  it("names the variables of a required field that is not set, and refuses two alternatives at once", () => {
    expect(problemsOf(() => loadConfig(Schema, BINDINGS, "test environment", { env: {} }))).toContain(
      "SECRETS or SECRETS_FILE: is not set",
    );
    const both = { SECRETS: JSON.stringify(SECRETS), SECRETS_FILE: "/x.json" };
    expect(problemsOf(() => loadConfig(Schema, BINDINGS, "test environment", { env: both }))).toContain(
      "set either SECRETS or SECRETS_FILE, not both",
    );
    expect(
      problemsOf(() => loadConfig(Schema, BINDINGS, "t", { env: { SECRETS_FILE: join(dir, "nope") } })),
    ).toContain(`SECRETS_FILE: cannot read ${join(dir, "nope")}`);
    expect(problemsOf(() => loadConfig(Schema, BINDINGS, "t", { env: { SECRETS: "{}" } }))).toContain(
      'SECRETS: expected {"tenants": ...}',
    );
  });

  it("lets an embedding process set defaults under the environment and overrides above it", () => {
    const config = loadConfig(Schema, BINDINGS, "test environment", {
      env: { CONCURRENCY: "2", REDIS_URL: "redis://env:6379", SECRETS: JSON.stringify(SECRETS) },
      defaults: { concurrency: 4, name: "embedded", tenants: {} },
      overrides: { redisUrl: "redis://found:6380" },
    });
    expect(config).toMatchObject({
      concurrency: 2,
      name: "embedded",
      redisUrl: "redis://found:6380",
      tenants: SECRETS.tenants,
    });
  });

  it("ignores a bad variable whose field the embedding process overrides", () => {
    const config = loadConfig(Schema, BINDINGS, "test environment", {
      env: { REDIS_URL: "not a url", SECRETS: "{broken" },
      overrides: { redisUrl: "redis://found:6380", tenants: {} },
    });
    expect(config).toMatchObject({ redisUrl: "redis://found:6380", tenants: {} });
  });
});

describe("parseConfig", () => {
  it("checks a typed configuration, naming each bad field", () => {
    expect(parseConfig(Schema, { tenants: {} }, "test configuration")).toMatchObject({ concurrency: 8 });
    expect(
      problemsOf(() => parseConfig(Schema, { tenants: { a: { secrets: ["x"] } } }, "test configuration")),
    ).toBe('invalid test configuration:\n  tenants.a.secrets.0: Invalid string: must start with "whsec_"');
  });
});
