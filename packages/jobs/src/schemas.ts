import { ERROR_CODES, type ErrorCode, isErrorCode } from "@esign/errors";
import {
  allowedPrefixes,
  assertAllowed,
  keyProblem,
  type ObjectRef,
  ObjectRefSchema,
  sameRef,
  type TenantStoragePolicy,
} from "@esign/storage";
import { z } from "zod";
import { SIGNING_QUEUES } from "./constants";

export const SCHEMA_VERSION = 1;

/** Absent means 1, so hand-written producers need not send it; a different number is refused. */
const SchemaVersionSchema = z.literal(SCHEMA_VERSION).default(SCHEMA_VERSION);

/** Names that end up in Redis keys, logs and configuration lookups. */
export const NameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "1-64 letters, digits, '_', '.', '-'");

export const SignatureLevelSchema = z.enum(["B-B", "B-T", "B-LT", "B-LTA"]);
export type SignatureLevel = z.infer<typeof SignatureLevelSchema>;

const ShortText = z.string().max(256);

export const FieldOptionsSchema = z.strictObject({
  /** Signature field to create or fill; PDF forbids "." in a field's partial name. */
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[^.]+$/, "field name must not contain '.'")
    .optional(),
  /** 1-based page the field's widget is placed on; default 1. */
  page: z.int().min(1).optional(),
  reason: ShortText.optional(),
  location: ShortText.optional(),
  contactInfo: ShortText.optional(),
  /** The signature dictionary's /Name (the signer's name as displayed); default from the certificate. */
  signerName: ShortText.optional(),
  /** Make this a certification (DocMDP) signature with this /P: 1 no changes, 2 forms, 3 forms and annotations. */
  certify: z.union([z.literal(1), z.literal(2), z.literal(3)]).optional(),
});
export type FieldOptions = z.infer<typeof FieldOptionsSchema>;

const Coordinate = z.number().finite().min(0).max(14_400);
const Length = z.number().finite().positive().max(14_400);
const Offset = z.number().finite().min(-14_400).max(14_400);

/**
 * A visible signature. Coordinates are PDF points on the page as the reader sees it: origin at the
 * bottom-left corner of the visible area (crop box), after the page's rotation. Without `rect` or
 * `anchor` the seal fills the named (`field.name`) or first empty signature field, else goes to the
 * bottom-right corner of the page (default: the last page).
 */
export const AppearanceSchema = z
  .strictObject({
    /** A seal template (image, text template, size...): the job's tenant's (see SealTemplateStore), else its signer profile's. */
    template: NameSchema.optional(),
    /** 1-based page; default `field.page`, else the last page (an anchor: every page, first match). */
    page: z.int().min(1).optional(),
    /** [x1, y1, x2, y2]. */
    rect: z
      .tuple([Coordinate, Coordinate, Coordinate, Coordinate])
      .refine(
        ([x1, y1, x2, y2]) => x2 > x1 && y2 > y1,
        "rect must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1",
      )
      .optional(),
    /** Text to find (e.g. "{{seal}}"); the seal's lower-left corner goes to the text's, plus `anchorOffset`. */
    anchor: z.string().min(1).max(200).optional(),
    anchorOffset: z.tuple([Offset, Offset]).optional(),
    /** [width, height] of an anchored or default-placed seal; default the template's, else 200 x 70. */
    size: z.tuple([Length, Length]).optional(),
    /** Text template: `{name}`, `{date}`, `{reason}`, `{location}`, `{subject}`; "\n" breaks lines. */
    text: z.string().max(1000).optional(),
    /** Largest font size; the text shrinks to fit the box. */
    fontSize: z.number().min(4).max(72).optional(),
  })
  .refine((appearance) => !(appearance.rect && appearance.anchor), {
    message: "give rect or anchor, not both",
    path: ["anchor"],
  })
  .refine((appearance) => appearance.anchor !== undefined || appearance.anchorOffset === undefined, {
    message: "anchorOffset places the seal relative to an anchor",
    path: ["anchorOffset"],
  });
export type Appearance = z.infer<typeof AppearanceSchema>;

export const CallbackSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "callback.url must be an http(s) URL" }).max(2048),
  /** Name of the webhook signing secret in the notifier's configuration; never the secret itself. */
  secretId: NameSchema.optional(),
});
export type Callback = z.infer<typeof CallbackSchema>;

export const METADATA_LIMITS = { entries: 32, keyLength: 64, valueLength: 1024, totalBytes: 8192 } as const;

/** Producer-defined labels carried through to results and events (invoice number, batch id...). */
export const MetadataSchema = z
  .record(z.string().min(1).max(METADATA_LIMITS.keyLength), z.string().max(METADATA_LIMITS.valueLength))
  .refine((map) => Object.keys(map).length <= METADATA_LIMITS.entries, {
    message: `metadata may have at most ${METADATA_LIMITS.entries} entries`,
  })
  .refine((map) => Buffer.byteLength(JSON.stringify(map)) <= METADATA_LIMITS.totalBytes, {
    message: `metadata must be at most ${METADATA_LIMITS.totalBytes} bytes as JSON`,
  });

/**
 * Becomes the BullMQ job id, so BullMQ's own rules apply: no ":" and not an integer ("12345" would
 * collide with auto-generated ids; send "invoice-12345").
 */
export const IdempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, "idempotencyKey: 1-128 letters, digits, '_', '.', '-'")
  .refine((key) => String(Number.parseInt(key, 10)) !== key, "idempotencyKey must not be an integer");

/**
 * Where the signed copy of `input` goes when a job names no output: `signed/<input key>` in the
 * input's store. With a tenant's policy that does not allow that place, `signed/` goes inside the
 * tenant's area instead: under the longest of its prefixes (ending in "/") that holds the input, so
 * `acme/in/a.pdf` of a tenant limited to `acme/` is signed into `acme/signed/in/a.pdf`. Tenants
 * whose policy allows `signed/<input key>` keep it.
 */
export function defaultOutputRef(input: ObjectRef, policy?: TenantStoragePolicy): ObjectRef {
  const plain = { store: input.store, key: `signed/${input.key}` };
  const prefixes = policy ? allowedPrefixes(input, policy) : [];
  if (!policy || prefixes.some((prefix) => plain.key.startsWith(prefix))) return plain;
  const area = prefixes
    .filter((prefix) => prefix.endsWith("/") && input.key.startsWith(prefix))
    .reduce((longest, prefix) => (prefix.length > longest.length ? prefix : longest), "");
  return { store: input.store, key: `${area}signed/${input.key.slice(area.length)}` };
}

/**
 * A job's objects as a tenant may use them: the output given, or the default inside the tenant's
 * area, and the input, both within its stores and prefixes (E_FORBIDDEN otherwise). Every way a
 * tenant's job is made (gateway routes, batch items, producers that pass a policy) goes through here.
 */
export function tenantJobObjects(
  job: { input: ObjectRef; output?: ObjectRef | undefined },
  policy: TenantStoragePolicy,
): { input: ObjectRef; output: ObjectRef } {
  const output = job.output ?? defaultOutputRef(job.input, policy);
  assertAllowed(job.input, policy);
  assertAllowed(output, policy);
  return { input: job.input, output };
}

/**
 * The password of an encrypted input, by reference: the name of a secret in the signer profile's
 * `pdfPasswords`. Jobs never carry the password itself (they sit in Redis, in logs).
 */
export const PdfPasswordRefSchema = z.strictObject({ secret: NameSchema });

/** The job's fields before defaults and cross-field checks; for gateways that derive their own request schemas. */
export const SignJobFieldsSchema = z.strictObject({
  schemaVersion: SchemaVersionSchema,
  input: ObjectRefSchema,
  /** Default: `signed/<input key>` in the input's store. */
  output: ObjectRefSchema.optional(),
  /** Signer profile name, resolved by the worker's configuration. Jobs never carry credentials. */
  signer: NameSchema,
  pdfPassword: PdfPasswordRefSchema.optional(),
  level: SignatureLevelSchema.default("B-B"),
  field: FieldOptionsSchema.default({}),
  /** Visible signature; omitted means an invisible signature. */
  appearance: AppearanceSchema.optional(),
  callback: CallbackSchema.optional(),
  metadata: MetadataSchema.optional(),
  /** Same key, same job: resubmissions collapse while the first job is retained. */
  idempotencyKey: IdempotencyKeySchema.optional(),
  tenant: NameSchema.optional(),
});

/** A signing job, version 1. Parsing fills defaults (output, level, field) and checks output ≠ input. */
export const SignJobSchema = SignJobFieldsSchema.transform((job, ctx) => {
  const output = job.output ?? defaultOutputRef(job.input);
  const problem = keyProblem(output.key);
  if (problem) {
    ctx.issues.push({
      code: "custom",
      message: `output key: ${problem.message}`,
      input: output,
      path: ["output"],
    });
    return z.NEVER;
  }
  if (sameRef(output, job.input)) {
    ctx.issues.push({
      code: "custom",
      message: "output must differ from input: inputs are never overwritten",
      input: output,
      path: ["output"],
    });
    return z.NEVER;
  }
  return { ...job, output };
});

/** What producers send (optional fields may be omitted). */
export type SignJobInput = z.input<typeof SignJobSchema>;
/** What workers receive after parsing (defaults filled in). */
export type SignJob = z.output<typeof SignJobSchema>;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "lowercase hex SHA-256");
const Timestamp = z.iso.datetime({ offset: true });

/** A signing job's return value, as stored by BullMQ and published in `job.completed`. */
export const SignResultSchema = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  output: ObjectRefSchema,
  /** Bytes of the signed PDF. */
  size: z.int().min(0),
  /** Of the whole signed PDF, so receivers can check what they download. */
  sha256: Sha256Hex,
  fieldName: z.string().min(1),
  /** The signing time in the CMS signed attributes (or the time-stamp's, for B-T and above). */
  signingTime: Timestamp,
  level: SignatureLevelSchema,
  /** Subject DN of the signing certificate, RFC 4514 string. */
  signerSubject: z.string(),
  /** Identifies this signature: the signing service's transaction id, or the worker's own id when it has none. */
  signatureId: z.string().min(1),
  /** Attempts it took, 1 when the first one succeeded. */
  attempts: z.int().min(1),
  /**
   * B-LT and B-LTA only: whether the output is "LTV enabled" as Acrobat judges it (every
   * certificate on the signature's and time-stamps' paths has revocation data in the /DSS).
   */
  ltvEnabled: z.boolean().optional(),
  /** B-LT and B-LTA only: each certificate that keeps the output from being LTV enabled, and what it lacks. */
  ltvGaps: z.array(z.strictObject({ certificate: z.string(), missing: z.string() })).optional(),
  /** What the producer should know about a signature that was made anyway; absent when none. */
  warnings: z.array(z.string()).optional(),
});
export type SignResult = z.infer<typeof SignResultSchema>;

export const ErrorCodeSchema = z.string().refine(isErrorCode, "unknown error code") as z.ZodType<ErrorCode>;

/** Why a job failed, as a producer sees it. */
export const JobFailureSchema = z.strictObject({
  code: ErrorCodeSchema,
  message: z.string(),
  /** True when retrying the same job cannot help (bad input, rejected by the signing service). */
  permanent: z.boolean(),
});
export type JobFailure = z.infer<typeof JobFailureSchema>;

const EventJobFields = {
  jobId: z.string().min(1),
  queue: z.enum(SIGNING_QUEUES),
  tenant: NameSchema.optional(),
  idempotencyKey: IdempotencyKeySchema.optional(),
  metadata: MetadataSchema.optional(),
};

export const JobCompletedEventSchema = z.strictObject({
  type: z.literal("job.completed"),
  schemaVersion: z.literal(SCHEMA_VERSION),
  timestamp: Timestamp,
  data: z.strictObject({ ...EventJobFields, result: SignResultSchema }),
});

/** Published once per job, when it fails for good (permanent error or retries exhausted). */
export const JobFailedEventSchema = z.strictObject({
  type: z.literal("job.failed"),
  schemaVersion: z.literal(SCHEMA_VERSION),
  timestamp: Timestamp,
  data: z.strictObject({ ...EventJobFields, error: JobFailureSchema, attempts: z.int().min(1) }),
});

export const JobEventSchema = z.discriminatedUnion("type", [JobCompletedEventSchema, JobFailedEventSchema]);
export type JobCompletedEvent = z.infer<typeof JobCompletedEventSchema>;
export type JobFailedEvent = z.infer<typeof JobFailedEventSchema>;
export type JobEvent = z.infer<typeof JobEventSchema>;

/**
 * BullMQ keeps only a message for failed jobs (`failedReason`), so the worker fails jobs with
 * `failureReason(error)` as the message and producers recover the code with `parseFailureReason`.
 */
export function failureReason(error: { code: ErrorCode; message: string }): string {
  return `${error.code}: ${error.message}`;
}

export function parseFailureReason(reason: string | undefined): JobFailure {
  const match = /^(E_[A-Z0-9_]+): ([\s\S]*)$/.exec(reason ?? "");
  if (match && isErrorCode(match[1]!)) {
    return { code: match[1], message: match[2]!, permanent: ERROR_CODES[match[1]].permanent };
  }
  // Not failed by our worker (stalled too often, killed, a bug): the job may well succeed if resubmitted.
  return { code: "E_INTERNAL", message: reason || "job failed without a reason", permanent: false };
}
