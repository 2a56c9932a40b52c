import { isEsignError } from "@esign/errors";
import type { SignJobInput, SignResult } from "@esign/jobs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { type Caller, callerOf } from "../auth";
import { AcceptedSchema, ErrorSchema, type SignQuery, SignQuerySchema } from "../schemas";
import { assertOwnSubmission, signerFor, tenantIdempotencyKey } from "../tenancy";
import { storeUpload } from "../upload";
import type { RouteDeps } from "./deps";
import { sendStoredPdf, uploadRef } from "./documents";

function jobFromQuery(query: SignQuery, caller: Caller): Omit<SignJobInput, "input" | "tenant"> {
  return {
    signer: signerFor(caller, query.signer),
    level: query.level,
    field: {
      name: query.field,
      page: query.page,
      reason: query.reason,
      location: query.location,
      contactInfo: query.contactInfo,
      certify: query.certify as 1 | 2 | 3 | undefined,
    },
    callback: query.callbackUrl ? { url: query.callbackUrl } : undefined,
    idempotencyKey: tenantIdempotencyKey(caller, query.idempotencyKey),
  };
}

function resultHeaders(id: string, result: SignResult): Record<string, string> {
  return {
    "x-esign-job-id": id,
    "x-esign-signature-field": result.fieldName,
    "x-esign-level": result.level,
    "x-esign-sha256": result.sha256,
  };
}

/** Uploads the request's PDF body for the caller; shared by `POST /v1/sign` and `POST /v1/jobs`. */
export async function storeRequestPdf(request: FastifyRequest, deps: RouteDeps) {
  const caller = callerOf(request);
  const ref = uploadRef(caller);
  const declared = request.headers["content-length"];
  await storeUpload(
    deps.stores.get(ref.store),
    ref.key,
    request.body as import("node:stream").Readable,
    declared === undefined ? undefined : Number(declared),
    { maxBytes: deps.config.maxUploadBytes },
  );
  return ref;
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
          "Body: the PDF (application/pdf). Answers the signed PDF, or 202 with the job URL when signing takes longer than the wait.",
        tags: ["signing"],
        querystring: SignQuerySchema,
        consumes: ["application/pdf"],
        produces: ["application/pdf", "application/json"],
        response: { 202: AcceptedSchema, "4xx": ErrorSchema, "5xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const job = jobFromQuery(request.query, caller);
      const input = await storeRequestPdf(request, deps);
      const submitted = await deps.client.submit({ ...job, input, tenant: caller.tenantId });
      await assertOwnSubmission(deps.client, caller, submitted.id);
      const timeoutMs = Math.min(request.query.wait ?? deps.config.syncTimeoutMs, deps.config.syncTimeoutMs);
      let result: SignResult;
      try {
        result = await deps.client.waitFor(submitted.id, { timeoutMs });
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
