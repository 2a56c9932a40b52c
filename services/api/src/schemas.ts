import {
  FieldOptionsSchema,
  PdfPasswordRefSchema,
  SignatureLevelSchema,
  SignJobFieldsSchema,
} from "@esign/jobs";
import { z } from "zod";

/** Query options of `POST /v1/sign` (flat, since the body is the PDF). */
export const SignQuerySchema = z.strictObject({
  signer: z.string().optional(),
  /** An encrypted PDF: the name of its password in the signer profile's `pdfPasswords` (never the password). */
  pdfPasswordSecret: PdfPasswordRefSchema.shape.secret.optional(),
  level: SignatureLevelSchema.optional(),
  field: FieldOptionsSchema.shape.name,
  page: z.coerce.number().int().min(1).optional(),
  reason: FieldOptionsSchema.shape.reason,
  location: FieldOptionsSchema.shape.location,
  contactInfo: FieldOptionsSchema.shape.contactInfo,
  certify: z.coerce.number().int().min(1).max(3).optional(),
  callbackUrl: z.url().optional(),
  idempotencyKey: z.string().optional(),
  /** Milliseconds to wait for the signed PDF before answering 202; capped by the server's setting. */
  wait: z.coerce.number().int().min(0).optional(),
});
export type SignQuery = z.infer<typeof SignQuerySchema>;

/** `POST /v1/jobs` with object references: the job schema minus what the gateway decides (tenant). */
export const CreateJobBodySchema = SignJobFieldsSchema.omit({ tenant: true, schemaVersion: true }).extend({
  signer: SignJobFieldsSchema.shape.signer.optional(),
});

export const JobIdParamsSchema = z.strictObject({ id: z.string().min(1).max(200) });

export const ErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), permanent: z.boolean() }),
});

export const AcceptedSchema = z.object({ id: z.string(), status: z.string(), url: z.string() });
