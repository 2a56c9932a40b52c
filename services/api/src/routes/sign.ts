import type { Readable } from "node:stream";
import { EsignError, isEsignError } from "@esign/errors";
import { type SignJobInput, type SignResult, type Submitted, tenantJobObjects } from "@esign/jobs";
import { type ObjectRef, sameRef } from "@esign/storage";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { type Caller, callerOf } from "../auth";
import { AcceptedSchema, ErrorSchema, type SignQuery, SignQuerySchema } from "../schemas";
import { assertOwnJob, signerFor, tenantIdempotencyKey } from "../tenancy";
import { storeUpload } from "../upload";
import type { RouteDeps } from "./deps";
import { sendStoredPdf, uploadRefs } from "./documents";

/** A flat `pdfPasswordSecret` option as the job's `pdfPassword` reference. */
export function pdfPasswordRef(secret: string | undefined): SignJobInput["pdfPassword"] {
  return secret === undefined ? undefined : { secret };
}

function jobFromQuery(query: SignQuery, caller: Caller): Omit<SignJobInput, "input" | "tenant"> {
  return {
    signer: signerFor(caller, query.signer),
    pdfPassword: pdfPasswordRef(query.pdfPasswordSecret),
    level: query.level,
    field: {
      name: query.field,
      page: query.page,
      reason: query.reason,
      location: query.location,
      contactInfo: query.contactInfo,
      certify: query.certify as 1 | 2 | 3 | undefined,
    },
    appearance: appearanceFromQuery(query),
    callback: query.callbackUrl ? { url: query.callbackUrl } : undefined,
    idempotencyKey: tenantIdempotencyKey(caller, query.idempotencyKey),
  };
}

/** The job's `appearance` from the flat options: present with `visible=true` or any appearance option. */
function appearanceFromQuery(query: SignQuery): SignJobInput["appearance"] {
  const { template, rect, anchor, anchorOffset, size, text, fontSize } = query;
  const options = { template, rect, anchor, anchorOffset, size, text, fontSize };
  const given = Object.values(options).some((value) => value !== undefined);
  if (query.visible !== "true" && !given) return undefined;
  return {
    ...options,
    page: query.page,
    rect: rect as [number, number, number, number] | undefined,
    anchorOffset: anchorOffset as [number, number] | undefined,
    size: size as [number, number] | undefined,
  };
}

function resultHeaders(id: string, result: SignResult): Record<string, string> {
  return {
    "x-esign-job-id": id,
    "x-esign-signature-field": result.fieldName,
    "x-esign-level": result.level,
    "x-esign-sha256": result.sha256,
    ...(result.ltvEnabled !== undefined && { "x-esign-ltv-enabled": String(result.ltvEnabled) }),
    ...(result.warnings && { "x-esign-warnings": asciiJson(result.warnings) }),
  };
}

/** JSON with every character outside printable ASCII escaped: a header value cannot carry them. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The PDF of a request: the raw `application/pdf` body, or the file part of a `multipart/form-data` body. */
export interface RequestPdf {
  body: Readable;
  declaredLength: number | undefined;
  /** Form fields sent before the file part (options, like the query of a raw upload). */
  fields: Record<string, string>;
}

/** The media types a PDF upload may come as. */
const PDF_UPLOAD_TYPES = ["application/pdf", "multipart/form-data"];

/**
 * Route hook of every PDF upload route: any other content type is refused before its body is
 * read (fastify would otherwise parse JSON or text and hand the handler an object, not a stream).
 */
export async function requirePdfUpload(request: FastifyRequest): Promise<void> {
  const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
  if (type === undefined || !PDF_UPLOAD_TYPES.includes(type)) {
    throw new EsignError(
      "E_UNSUPPORTED_MEDIA",
      `send the PDF as ${PDF_UPLOAD_TYPES.join(" or ")}, not ${type ?? "a body without a content type"}`,
    );
  }
}

export async function requestPdf(request: FastifyRequest): Promise<RequestPdf> {
  if (!request.isMultipart()) {
    const declared = request.headers["content-length"];
    return {
      body: request.body as Readable,
      declaredLength: declared === undefined ? undefined : Number(declared),
      fields: {},
    };
  }
  const part = await request.file().catch((error: unknown) => {
    throw new EsignError("E_UPLOAD_ABORTED", "the multipart body is malformed or ended early", {
      cause: error,
    });
  });
  if (!part) throw new EsignError("E_NOT_PDF", "the multipart body has no file part");
  const fields: Record<string, string> = {};
  for (const [name, field] of Object.entries(part.fields)) {
    const value = Array.isArray(field) ? field[0] : field;
    if (value && value.type === "field") fields[name] = String(value.value);
  }
  return { body: part.file, declaredLength: undefined, fields };
}

/**
 * Streams the request's PDF into the caller's upload area; shared by `POST /v1/sign` and
 * `POST /v1/jobs/upload`. Answers where it is and where its signed copy goes, both checked against
 * the tenant's allow-list before anything is written.
 */
export async function storeRequestPdf(
  request: FastifyRequest,
  deps: RouteDeps,
  pdf: RequestPdf,
): Promise<{ input: ObjectRef; output: ObjectRef }> {
  const caller = callerOf(request);
  const refs = tenantJobObjects(uploadRefs(caller), caller.tenant);
  await storeUpload(deps.stores.get(refs.input.store), refs.input.key, pdf.body, pdf.declaredLength, {
    maxBytes: deps.config.maxUploadBytes,
  });
  return refs;
}

/**
 * Submits the job of a stored upload. When the submission is refused, or collapses into an earlier
 * job of the same idempotency key (which signs its own upload), the upload is removed: nothing is
 * left in storage that no job will read.
 */
export async function submitUpload(
  request: FastifyRequest,
  deps: RouteDeps,
  job: SignJobInput & { input: ObjectRef },
): Promise<Submitted> {
  const caller = callerOf(request);
  const discard = () => deps.stores.get(job.input.store).delete(job.input.key);
  let submitted: Submitted;
  try {
    submitted = await deps.client.submit({ ...job, tenant: caller.tenantId });
  } catch (error) {
    await discard().catch((cause: unknown) =>
      request.log.warn({ err: cause }, "removing a refused upload failed"),
    );
    throw error;
  }
  if (job.idempotencyKey === undefined) return submitted;
  const { job: accepted } = await deps.client.get(submitted.id);
  if (!sameRef(accepted.input, job.input)) await discard();
  assertOwnJob(caller, accepted);
  return submitted;
}

/** Options from the query, overridden by multipart form fields; checked against the same schema. */
function signOptions(query: SignQuery, fields: Record<string, string>): SignQuery {
  if (Object.keys(fields).length === 0) return query;
  const parsed = SignQuerySchema.safeParse({ ...query, ...fields });
  if (!parsed.success) {
    throw new EsignError(
      "E_INVALID_JOB",
      `invalid form fields: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}

/**
 * `POST /v1/sign`: the body is the PDF; the answer is the signed PDF. It goes through the queue like
 * every other job (one rate limit, one retry policy); past the wait it answers 202 with the job URL.
 */
export async function signRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/v1/sign",
    {
      schema: {
        summary: "Sign one PDF and get it back",
        description:
          "Body: the PDF (application/pdf), or multipart/form-data with the options as fields before one file part. Answers the signed PDF, or 202 with the job URL when signing takes longer than the wait.",
        tags: ["signing"],
        querystring: SignQuerySchema,
        consumes: ["application/pdf", "multipart/form-data"],
        produces: ["application/pdf", "application/json"],
        response: { 202: AcceptedSchema, "4xx": ErrorSchema, "5xx": ErrorSchema },
      },
      onRequest: requirePdfUpload,
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const pdf = await requestPdf(request);
      const options = signOptions(request.query, pdf.fields);
      const job = jobFromQuery(options, caller);
      const { input, output } = await storeRequestPdf(request, deps, pdf);
      const submitted = await submitUpload(request, deps, { ...job, input, output });
      const timeoutMs = Math.min(options.wait ?? deps.config.syncTimeoutMs, deps.config.syncTimeoutMs);
      let result: SignResult;
      try {
        result = await deps.client.waitFor(submitted.id, { timeoutMs, queue: submitted.queue });
      } catch (error) {
        if (isEsignError(error) && error.code === "E_TIMEOUT") {
          return reply
            .status(202)
            .header("location", `/v1/jobs/${submitted.id}`)
            .send({ id: submitted.id, status: "pending", url: `/v1/jobs/${submitted.id}` });
        }
        throw error;
      }
      return sendStoredPdf(reply, deps.stores, result.output, resultHeaders(submitted.id, result));
    },
  );
}
