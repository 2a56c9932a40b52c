import { EsignError } from "@esign/errors";
import { describe, expect, it } from "vitest";
import {
  defaultOutputRef,
  failureReason,
  InvalidJobError,
  JobEventSchema,
  parseFailureReason,
  parseSignJob,
  SignJobSchema,
  SignResultSchema,
  tenantJobObjects,
} from "../src";
import { signJob, signResult } from "./fixtures";

function issuesOf(job: unknown): string[] {
  try {
    parseSignJob(job);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidJobError);
    expect((error as EsignError).code).toBe("E_INVALID_JOB");
    return (error as InvalidJobError).issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  }
  throw new Error("expected the job to be rejected");
}

describe("SignJob v1", () => {
  it("fills defaults: version, output next to the input, level, field", () => {
    const job = parseSignJob(signJob());
    expect(job).toEqual({
      schemaVersion: 1,
      input: { store: "default", key: "in/contract.pdf" },
      output: { store: "default", key: "signed/in/contract.pdf" },
      signer: "hr-seal",
      level: "B-B",
      field: {},
    });
    expect(defaultOutputRef(job.input)).toEqual(job.output);
  });

  it("puts the default output inside a prefix-limited tenant's area when the plain one is outside", () => {
    const policy = { stores: { default: ["acme/", "acme/eu/", "acme-x", "signed/kept/"], archive: [""] } };
    const ref = (store: string, key: string) => ({ store, key });
    expect(defaultOutputRef(ref("default", "acme/in/a.pdf"), policy)).toEqual(
      ref("default", "acme/signed/in/a.pdf"),
    );
    expect(defaultOutputRef(ref("default", "acme/eu/a.pdf"), policy)).toEqual(
      ref("default", "acme/eu/signed/a.pdf"),
    );
    // A whole-store grant keeps the plain default; a prefix without "/" is no folder to sign into.
    expect(defaultOutputRef(ref("archive", "x/a.pdf"), policy)).toEqual(ref("archive", "signed/x/a.pdf"));
    expect(defaultOutputRef(ref("default", "acme-x.pdf"), policy)).toEqual(
      ref("default", "signed/acme-x.pdf"),
    );
    // Where the policy allows the plain default, it stays (deployments that granted `signed/<area>`).
    expect(defaultOutputRef(ref("default", "kept/a.pdf"), policy)).toEqual(
      ref("default", "signed/kept/a.pdf"),
    );
  });

  it("refuses a tenant's input or output outside its area (tenantJobObjects)", () => {
    const policy = { stores: { default: ["acme/"] } };
    const input = { store: "default", key: "acme/in/a.pdf" };
    expect(tenantJobObjects({ input }, policy).output).toEqual({
      store: "default",
      key: "acme/signed/in/a.pdf",
    });
    const refused = (job: Parameters<typeof tenantJobObjects>[0]) => {
      try {
        tenantJobObjects(job, policy);
      } catch (error) {
        return (error as EsignError).code;
      }
      return undefined;
    };
    expect(refused({ input, output: { store: "default", key: "signed/acme/in/a.pdf" } })).toBe("E_FORBIDDEN");
    expect(refused({ input: { store: "default", key: "other/a.pdf" } })).toBe("E_FORBIDDEN");
    expect(refused({ input, output: { store: "archive", key: "acme/a.pdf" } })).toBe("E_FORBIDDEN");
    expect(refused({ input, output: { store: "default", key: "acme/../other/a.pdf" } })).toBe("E_FORBIDDEN");
  });

  it("round-trips a complete job through JSON unchanged", () => {
    const full = parseSignJob(
      signJob({
        output: { store: "archive", key: "2026/11/contract-signed.pdf" },
        level: "B-LTA",
        field: {
          name: "HR approval",
          page: 3,
          reason: "Approved",
          location: "Berlin",
          contactInfo: "hr@example.com",
          signerName: "Example HR",
          certify: 2,
        },
        appearance: { rect: [50, 50, 250, 110], text: "Signed by Example HR", fontSize: 9 },
        callback: { url: "https://erp.example.com/hooks/esign", secretId: "erp-hook" },
        metadata: { invoice: "INV-2026-0001", batch: "nightly-2026-11-27" },
        idempotencyKey: "invoice-2026-0001",
        tenant: "example-corp",
        pdfPassword: { secret: "invoices" },
      }),
    );
    expect(SignJobSchema.parse(JSON.parse(JSON.stringify(full)))).toEqual(full);
  });

  it("refuses jobs that would overwrite their input or escape a store", () => {
    const input = { store: "default", key: "in/contract.pdf" };
    expect(issuesOf(signJob({ output: input })).join()).toMatch(/output: output must differ from input/);
    expect(issuesOf(signJob({ input: { store: "default", key: "../etc/passwd" } })).join()).toMatch(
      /^input\.key/,
    );
    expect(issuesOf(signJob({ input: { store: "default", key: "k".repeat(1020) } })).join()).toMatch(
      /output key/,
    );
  });

  it("rejects unknown fields, wrong levels, secrets in place of names, and bad callbacks", () => {
    expect(issuesOf({ ...signJob(), levle: "B-T" }).join()).toMatch(/levle/);
    expect(issuesOf(signJob({ level: "B-X" as never })).join()).toMatch(/^level/);
    expect(issuesOf(signJob({ signer: "-----BEGIN PRIVATE KEY-----" })).join()).toMatch(/^signer/);
    // A PDF password is named, never given: a bare string or a secret's value is refused.
    expect(issuesOf(signJob({ pdfPassword: "hunter2" as never })).join()).toMatch(/^pdfPassword/);
    expect(issuesOf(signJob({ pdfPassword: { secret: "hunter 2!" } })).join()).toMatch(
      /^pdfPassword\.secret/,
    );
    expect(issuesOf(signJob({ callback: { url: "file:///etc/passwd" } })).join()).toMatch(/^callback\.url/);
    expect(issuesOf({ ...signJob(), schemaVersion: 2 }).join()).toMatch(/^schemaVersion/);
    expect(issuesOf(signJob({ field: { name: "a.b" } })).join()).toMatch(/^field\.name/);
    expect(issuesOf(signJob({ appearance: { rect: [100, 100, 50, 200] } })).join()).toMatch(
      /^appearance\.rect/,
    );
    expect(issuesOf(signJob({ appearance: { rect: [10, 10, 50, 50], anchor: "{{seal}}" } })).join()).toMatch(
      /^appearance\.anchor: give rect or anchor, not both/,
    );
    expect(issuesOf(signJob({ appearance: { anchorOffset: [0, -20] } })).join()).toMatch(
      /^appearance\.anchorOffset/,
    );
  });

  it("applies BullMQ's job id rules to idempotency keys", () => {
    expect(parseSignJob(signJob({ idempotencyKey: "007" })).idempotencyKey).toBe("007");
    expect(issuesOf(signJob({ idempotencyKey: "12345" })).join()).toMatch(/integer/);
    expect(issuesOf(signJob({ idempotencyKey: "a:b" })).join()).toMatch(/^idempotencyKey/);
  });

  it("limits metadata", () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, index) => [`k${index}`, "v"]));
    expect(issuesOf(signJob({ metadata: many })).join()).toMatch(/at most 32 entries/);
    const big = Object.fromEntries(Array.from({ length: 9 }, (_, index) => [`k${index}`, "v".repeat(1000)]));
    expect(issuesOf(signJob({ metadata: big })).join()).toMatch(/8192 bytes/);
    expect(issuesOf(signJob({ metadata: { n: 1 as never } })).join()).toMatch(/^metadata\.n/);
  });
});

describe("SignResult and events", () => {
  it("validates results", () => {
    expect(SignResultSchema.parse(signResult())).toEqual(signResult());
    expect(SignResultSchema.safeParse(signResult({ sha256: "ABC" })).success).toBe(false);
    expect(SignResultSchema.safeParse({ ...signResult(), schemaVersion: 2 }).success).toBe(false);
  });

  it("takes the optional LTV judgement and warnings of B-LT/B-LTA results, well formed only", () => {
    const ltv = {
      level: "B-LT" as const,
      ltvEnabled: false,
      ltvGaps: [{ certificate: "CN=Seal", missing: "revocation data showing it good" }],
      warnings: ["not LTV enabled: CN=Seal lacks revocation data showing it good"],
    };
    expect(SignResultSchema.parse(signResult(ltv))).toEqual(signResult(ltv));
    expect(SignResultSchema.safeParse(signResult({ ltvEnabled: "yes" as never })).success).toBe(false);
    expect(
      SignResultSchema.safeParse(signResult({ ltvGaps: [{ certificate: "CN=Seal" }] as never })).success,
    ).toBe(false);
  });

  it("tells completed and failed events apart by type", () => {
    const completed = JobEventSchema.parse({
      type: "job.completed",
      schemaVersion: 1,
      timestamp: "2026-11-27T23:00:01Z",
      data: { jobId: "invoice-1", queue: "esign-sign", result: signResult() },
    });
    expect(completed.type).toBe("job.completed");
    const failed = {
      type: "job.failed",
      schemaVersion: 1,
      timestamp: "2026-11-27T23:00:01Z",
      data: {
        jobId: "invoice-2",
        queue: "esign-batch",
        attempts: 8,
        error: { code: "E_SIGNER_UNAVAILABLE", message: "503 from signing service", permanent: false },
      },
    };
    expect(JobEventSchema.parse(failed)).toEqual(failed);
    expect(
      JobEventSchema.safeParse({ ...failed, data: { ...failed.data, result: signResult() } }).success,
    ).toBe(false);
    const unknownCode = { ...failed.data.error, code: "E_MADE_UP" };
    expect(
      JobEventSchema.safeParse({ ...failed, data: { ...failed.data, error: unknownCode } }).success,
    ).toBe(false);
  });

  it("carries error codes through BullMQ's failedReason", () => {
    const reason = failureReason(new EsignError("E_SIGNER_REJECTED", "certificate suspended: call the CA"));
    expect(parseFailureReason(reason)).toEqual({
      code: "E_SIGNER_REJECTED",
      message: "certificate suspended: call the CA",
      permanent: true,
    });
    expect(parseFailureReason("job stalled more than allowable limit")).toEqual({
      code: "E_INTERNAL",
      message: "job stalled more than allowable limit",
      permanent: false,
    });
    expect(parseFailureReason("E_NOT_A_CODE: x").code).toBe("E_INTERNAL");
  });
});
