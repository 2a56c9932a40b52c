import {
  AppearanceSchema,
  FieldOptionsSchema,
  PdfPasswordRefSchema,
  SignatureLevelSchema,
  SignJobFieldsSchema,
} from "@esign/jobs";
import { z } from "zod";

/** "a,b,...": `count` numbers, as the CLI takes --rect, --anchor-offset and --size. */
function numberList(count: number, shape: string) {
  const number = "-?\\d+(?:\\.\\d+)?";
  return z
    .string()
    .regex(
      new RegExp(`^${number}(?:,${number}){${count - 1}}$`),
      `${shape}: ${count} comma-separated numbers`,
    )
    .transform((value) => value.split(",").map(Number));
}

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
  /**
   * A visible signature: `visible=true` alone fills the named or first empty signature field, else
   * the bottom-right corner of the page; any of the options below implies it. Points on the page
   * as the reader sees it (origin bottom-left of the crop box, after rotation).
   */
  visible: z.enum(["true", "false"]).optional(),
  /** A seal template of the tenant (PUT /v1/templates/:name), else of the signer profile. */
  template: AppearanceSchema.shape.template,
  rect: numberList(4, "rect x1,y1,x2,y2").optional(),
  anchor: AppearanceSchema.shape.anchor,
  anchorOffset: numberList(2, "anchorOffset dx,dy").optional(),
  size: numberList(2, "size w,h").optional(),
  /** Text template; "\n" breaks lines. */
  text: AppearanceSchema.shape.text,
  fontSize: z.coerce.number().min(4).max(72).optional(),
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
