import { ObjectRefSchema, StoreNameSchema } from "@esign/storage";
import { z } from "zod";
import {
  AppearanceSchema,
  CallbackSchema,
  ErrorCodeSchema,
  FieldOptionsSchema,
  MetadataSchema,
  PdfPasswordRefSchema,
  SCHEMA_VERSION,
  SignatureLevelSchema,
  SignJobFieldsSchema,
} from "./schemas";

/** Options a batch shares across its items; any item may override them. */
export const BatchItemOptionsSchema = z.strictObject({
  signer: SignJobFieldsSchema.shape.signer.optional(),
  /** Encrypted inputs: the name of their password in the signer profile's `pdfPasswords`, never the password. */
  pdfPassword: PdfPasswordRefSchema.optional(),
  level: SignatureLevelSchema.optional(),
  field: FieldOptionsSchema.optional(),
  appearance: AppearanceSchema.optional(),
  /** Per-document webhooks (job.completed / job.failed); the batch's own `callback` gets batch.completed. */
  callback: CallbackSchema.optional(),
  metadata: MetadataSchema.optional(),
});
export type BatchItemOptions = z.infer<typeof BatchItemOptionsSchema>;

/** One document of a batch: what to sign, where to put it, and any option that differs from the batch's. */
export const BatchItemSchema = BatchItemOptionsSchema.extend({
  input: ObjectRefSchema,
  /** Default: `signed/<input key>` in the input's store. */
  output: ObjectRefSchema.optional(),
});
export type BatchItem = z.infer<typeof BatchItemSchema>;

/** A folder-like part of a store: every key that starts with `prefix` ("" is the whole store). */
export const StorePrefixSchema = z.strictObject({
  store: StoreNameSchema,
  prefix: z.string().max(1024),
});
export type StorePrefix = z.infer<typeof StorePrefixSchema>;

/** Inline item lists are for modest batches; big ones come from a manifest or a prefix. */
export const MAX_INLINE_ITEMS = 1000;

/** Everything of a batch request except an inline item list. */
export const BatchSettingsSchema = z.strictObject({
  itemsManifest: ObjectRefSchema.optional(),
  source: StorePrefixSchema.optional(),
  target: StorePrefixSchema.optional(),
  options: BatchItemOptionsSchema.default({}),
  /** Receives batch.completed. */
  callback: CallbackSchema.optional(),
  /** Where the result manifest is written. */
  manifest: ObjectRefSchema.optional(),
  tenant: SignJobFieldsSchema.shape.tenant,
});
export type BatchSettings = z.infer<typeof BatchSettingsSchema>;

/** What is wrong with the combination of item sources in a request; empty when it is fine. */
export function batchFormProblems(settings: BatchSettings, hasItems: boolean): string[] {
  const problems: string[] = [];
  const forms = [hasItems, Boolean(settings.itemsManifest), Boolean(settings.source)].filter(Boolean);
  if (forms.length !== 1) problems.push("give exactly one of items, itemsManifest, or source (with target)");
  if (Boolean(settings.source) !== Boolean(settings.target)) problems.push("source and target go together");
  if (settings.source && settings.target && prefixesOverlap(settings.source, settings.target)) {
    // Outputs inside the source would be picked up as inputs by the next run over the same prefix.
    problems.push("target prefix must not overlap the source prefix");
  }
  return problems;
}

/**
 * A batch request in one of three forms: `items` (inline), `itemsManifest` (JSON Lines of items in
 * object storage) or `source` + `target` (every PDF under a prefix, signed into the same relative
 * names under another). The result manifest goes to `manifest`, by default next to the outputs.
 */
export const BatchRequestSchema = BatchSettingsSchema.extend({
  items: z.array(BatchItemSchema).min(1).max(MAX_INLINE_ITEMS).optional(),
}).superRefine((request, ctx) => {
  for (const message of batchFormProblems(request, request.items !== undefined)) {
    ctx.addIssue({ code: "custom", message });
  }
});
export type BatchRequest = z.infer<typeof BatchRequestSchema>;
export type BatchRequestInput = z.input<typeof BatchRequestSchema>;

function prefixesOverlap(a: StorePrefix, b: StorePrefix): boolean {
  return a.store === b.store && (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix));
}

/** Where a batch's items come from, as the expanding job reads them. */
export const BatchItemSourceSchema = z.discriminatedUnion("kind", [
  /** Items the producer pushed to the batch's Redis list before the batch started. */
  z.strictObject({ kind: z.literal("list"), count: z.int().min(0) }),
  z.strictObject({ kind: z.literal("manifest"), manifest: ObjectRefSchema }),
  z.strictObject({ kind: z.literal("prefix"), source: StorePrefixSchema, target: StorePrefixSchema }),
]);
export type BatchItemSource = z.infer<typeof BatchItemSourceSchema>;

/**
 * The stores and key prefixes, the signer profiles and the webhook secrets (`callback.secretId`) a
 * batch's items may use (the submitting tenant's policy).
 */
export const BatchPolicySchema = z.strictObject({
  stores: z.record(StoreNameSchema, z.array(z.string())),
  signers: z.array(z.string()).optional(),
  webhookSecretIds: z.array(z.string()).optional(),
});

/** Data of the batch's parent job: everything the finisher needs, nothing per item. */
export const BatchRecordSchema = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  batchId: z.string().min(1),
  createdAt: z.iso.datetime({ offset: true }),
  tenant: SignJobFieldsSchema.shape.tenant,
  manifest: ObjectRefSchema,
  callback: CallbackSchema.optional(),
});
export type BatchRecord = z.infer<typeof BatchRecordSchema>;

/** Data of the job that turns the batch's item source into child signing jobs. */
export const BatchExpandDataSchema = z.strictObject({
  batchId: z.string().min(1),
  items: BatchItemSourceSchema,
  options: BatchItemOptionsSchema,
  tenant: SignJobFieldsSchema.shape.tenant,
  policy: BatchPolicySchema.optional(),
});
export type BatchExpandData = z.infer<typeof BatchExpandDataSchema>;

export const BatchItemStatusSchema = z.enum(["completed", "failed", "cancelled"]);
export type BatchItemStatus = z.infer<typeof BatchItemStatusSchema>;

/** One line of a result manifest (JSON Lines, one line per item, in no particular order). */
export const BatchManifestLineSchema = z.strictObject({
  /** Position of the item in the batch's source (list order, manifest line, listing order). */
  index: z.int().min(0),
  /** The signing job; absent for items refused before a job was made. */
  jobId: z.string().optional(),
  input: ObjectRefSchema.optional(),
  output: ObjectRefSchema.optional(),
  status: BatchItemStatusSchema,
  errorCode: ErrorCodeSchema.optional(),
  error: z.string().optional(),
  signingTime: z.string().optional(),
  signatureId: z.string().optional(),
});
export type BatchManifestLine = z.infer<typeof BatchManifestLineSchema>;

export const BatchCountsSchema = z.strictObject({
  /** Items seen so far (all of them once submission is over). */
  total: z.int().min(0),
  /** Enqueued and not finished (waiting, delayed, active or retrying). */
  pending: z.int().min(0),
  completed: z.int().min(0),
  failed: z.int().min(0),
  cancelled: z.int().min(0),
});
export type BatchCounts = z.infer<typeof BatchCountsSchema>;

export const BatchCompletedEventSchema = z.strictObject({
  type: z.literal("batch.completed"),
  schemaVersion: z.literal(SCHEMA_VERSION),
  timestamp: z.iso.datetime({ offset: true }),
  data: z.strictObject({
    batchId: z.string(),
    tenant: SignJobFieldsSchema.shape.tenant,
    counts: BatchCountsSchema,
    manifest: ObjectRefSchema,
    /** Set when reading the item source stopped early (e.g. an unreadable manifest). */
    submissionError: z.string().optional(),
  }),
});
export type BatchCompletedEvent = z.infer<typeof BatchCompletedEventSchema>;

/** Key of an object under `target` with the same name relative to `source` as `key`. */
export function targetKeyOf(key: string, source: StorePrefix, target: StorePrefix): string {
  return target.prefix + key.slice(source.prefix.length);
}
