import { describe, expect, it } from "vitest";
import {
  BatchRequestSchema,
  batchItemJob,
  childIndexOf,
  childJobId,
  defaultManifestRef,
  parseSignJob,
  targetKeyOf,
} from "../src";

describe("batch requests", () => {
  it("accepts each of the three forms and refuses none or several", () => {
    const source = { store: "default", prefix: "in/" };
    const target = { store: "default", prefix: "out/" };
    expect(BatchRequestSchema.safeParse({ source, target }).success).toBe(true);
    expect(
      BatchRequestSchema.safeParse({ itemsManifest: { store: "default", key: "list.jsonl" } }).success,
    ).toBe(true);
    expect(
      BatchRequestSchema.safeParse({ items: [{ input: { store: "default", key: "a.pdf" } }] }).success,
    ).toBe(true);
    expect(BatchRequestSchema.safeParse({}).success).toBe(false);
    expect(BatchRequestSchema.safeParse({ source }).success).toBe(false);
    expect(
      BatchRequestSchema.safeParse({ source, target, itemsManifest: { store: "default", key: "list.jsonl" } })
        .success,
    ).toBe(false);
  });

  it("refuses a target inside the source (outputs would be the next run's inputs) and the reverse", () => {
    const overlap = (a: string, b: string) =>
      BatchRequestSchema.safeParse({ source: { store: "s", prefix: a }, target: { store: "s", prefix: b } })
        .success;
    expect(overlap("in/", "in/signed/")).toBe(false);
    expect(overlap("in/signed/", "in/")).toBe(false);
    expect(overlap("in/", "out/")).toBe(true);
    expect(
      BatchRequestSchema.safeParse({
        source: { store: "a", prefix: "in/" },
        target: { store: "b", prefix: "in/" },
      }).success,
    ).toBe(true);
  });
});

describe("batch items", () => {
  it("fill in the batch's options, item fields winning and field/metadata merged, tagged with the batch", () => {
    const job = parseSignJob(
      batchItemJob(
        {
          input: { store: "default", key: "in/a.pdf" },
          level: "B-T",
          field: { reason: "item reason" },
          metadata: { invoice: "42" },
        },
        {
          signer: "seal",
          level: "B-B",
          field: { location: "Berlin", reason: "batch reason" },
          metadata: { run: "n1" },
        },
        "batch-1",
        "acme",
      ),
    );
    expect(job).toMatchObject({
      signer: "seal",
      level: "B-T",
      field: { location: "Berlin", reason: "item reason" },
      metadata: { run: "n1", invoice: "42", batchId: "batch-1" },
      tenant: "acme",
      output: { store: "default", key: "signed/in/a.pdf" },
    });
  });

  it("map source keys to the same relative key under the target, and ids back to indexes", () => {
    expect(targetKeyOf("in/2026/a.pdf", { store: "s", prefix: "in/" }, { store: "t", prefix: "out/" })).toBe(
      "out/2026/a.pdf",
    );
    expect(childIndexOf(childJobId("batch-x.y", 1234))).toBe(1234);
    expect(
      defaultManifestRef(
        { options: {}, target: { store: "t", prefix: "out/" }, source: { store: "s", prefix: "in/" } },
        "b1",
      ),
    ).toEqual({ store: "t", key: "out/b1.manifest.jsonl" });
  });
});
