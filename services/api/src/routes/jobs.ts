import { EsignError } from "@esign/errors";
import {
  assertWebhookSecretGranted,
  DeliveryAttemptSchema,
  getDeliveries,
  type JobStatus,
  tenantJobObjects,
} from "@esign/jobs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { callerOf } from "../auth";
import { CreateJobBodySchema, ErrorSchema, JobIdParamsSchema, SignQuerySchema } from "../schemas";
import { assertOwnSubmission, signerFor, tenantIdempotencyKey } from "../tenancy";
import type { RouteDeps } from "./deps";
import { sendStoredPdf } from "./documents";
import { pdfPasswordRef, requestPdf, requirePdfUpload, storeRequestPdf, submitUpload } from "./sign";

const JobViewSchema = z.object({
  id: z.string(),
  queue: z.string(),
  state: z.string(),
  attempts: z.number(),
  input: z.object({ store: z.string(), key: z.string() }),
  output: z.object({ store: z.string(), key: z.string() }),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.object({ code: z.string(), message: z.string(), permanent: z.boolean() }).optional(),
});

const FailedJobViewSchema = JobViewSchema.extend({ tenant: z.string().optional(), failedAt: z.string() });

/** 200 when the job was removed before it started; 409 with its state when it had already started. */
const CancelOutcomeSchema = z.object({ cancelled: z.boolean(), state: z.string() });

function view(status: JobStatus) {
  return {
    id: status.id,
    queue: status.queue,
    state: status.state,
    attempts: status.attempts,
    input: status.job.input,
    output: status.job.output,
    result: status.result,
    error: status.error,
  };
}

/** A job of another tenant does not exist as far as this caller can tell (no id probing). */
async function ownedJob(request: FastifyRequest, deps: RouteDeps, id: string): Promise<JobStatus> {
  const caller = callerOf(request);
  const status = await deps.client.get(id);
  if (status.job.tenant !== caller.tenantId && !caller.admin) {
    throw new EsignError("E_NOT_FOUND", `no job ${id}`);
  }
  return status;
}

export async function jobRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    "/v1/jobs",
    {
      schema: {
        summary: "Submit a signing job",
        description:
          "JSON body: a job referencing objects in storage (the tenant's own stores and prefixes only). " +
          "Or an application/pdf body with the job options in the query, like POST /v1/sign.",
        tags: ["jobs"],
        body: CreateJobBodySchema,
        response: { 202: z.object({ id: z.string(), url: z.string() }), "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const body = request.body;
      const { output } = tenantJobObjects(body, caller.tenant);
      // Refused now rather than after the signing call, which may be paid for.
      await deps.stores.get(output.store).checkWritable(output.key);
      assertWebhookSecretGranted(body.callback, caller.tenant.webhookSecretIds);
      const submitted = await deps.client.submit({
        ...body,
        output,
        signer: signerFor(caller, body.signer),
        idempotencyKey: tenantIdempotencyKey(caller, body.idempotencyKey),
        tenant: caller.tenantId,
      });
      await assertOwnSubmission(deps.client, caller, submitted.id);
      return reply.status(202).send({ id: submitted.id, url: `/v1/jobs/${submitted.id}` });
    },
  );

  api.post(
    "/v1/jobs/upload",
    {
      schema: {
        summary: "Submit a signing job with the PDF in the body",
        tags: ["jobs"],
        querystring: z.object({
          signer: z.string().optional(),
          level: z.enum(["B-B", "B-T", "B-LT", "B-LTA"]).optional(),
          pdfPasswordSecret: SignQuerySchema.shape.pdfPasswordSecret,
        }),
        consumes: ["application/pdf", "multipart/form-data"],
        response: { 202: z.object({ id: z.string(), url: z.string() }), "4xx": ErrorSchema },
      },
      onRequest: requirePdfUpload,
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const signer = signerFor(caller, request.query.signer);
      const { input, output } = await storeRequestPdf(request, deps, await requestPdf(request));
      const submitted = await submitUpload(request, deps, {
        input,
        output,
        signer,
        pdfPassword: pdfPasswordRef(request.query.pdfPasswordSecret),
        level: request.query.level,
      });
      return reply.status(202).send({ id: submitted.id, url: `/v1/jobs/${submitted.id}` });
    },
  );

  api.get(
    "/v1/jobs",
    {
      schema: {
        summary: "The most recently failed jobs (newest first) with their error codes",
        description:
          "Jobs that failed for good, of both signing queues (single jobs and batch documents); a " +
          "tenant's own, or every tenant's with an admin key. `state` is `failed`, the only listing offered.",
        tags: ["jobs"],
        querystring: z.object({
          state: z.literal("failed").default("failed"),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: { 200: z.object({ jobs: z.array(FailedJobViewSchema) }), "4xx": ErrorSchema },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const failed = await deps.client.recentFailed({
        limit: request.query.limit,
        include: (status) => caller.admin || status.job.tenant === caller.tenantId,
      });
      return {
        jobs: failed.map((status) => ({
          ...view(status),
          tenant: status.job.tenant,
          failedAt: status.failedAt,
        })),
      };
    },
  );

  api.post(
    "/v1/jobs/:id/retry",
    {
      schema: {
        summary: "Run a failed job again",
        description:
          "For a job that failed for good, after its cause was fixed: it is queued again with a fresh " +
          "set of attempts and keeps its id. 409 with its state for a job that has not failed.",
        tags: ["jobs"],
        params: JobIdParamsSchema,
        response: {
          202: z.object({ retried: z.boolean(), state: z.string() }),
          409: z.object({ retried: z.boolean(), state: z.string() }),
          "4xx": ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      await ownedJob(request, deps, request.params.id);
      const outcome = await deps.client.retry(request.params.id);
      return reply.status(outcome.retried ? 202 : 409).send(outcome);
    },
  );

  api.get(
    "/v1/jobs/:id",
    {
      schema: {
        summary: "A job's state, result or error",
        tags: ["jobs"],
        params: JobIdParamsSchema,
        response: { 200: JobViewSchema, "4xx": ErrorSchema },
      },
    },
    async (request) => view(await ownedJob(request, deps, request.params.id)),
  );

  api.get(
    "/v1/jobs/:id/document",
    {
      schema: {
        summary: "The signed PDF of a completed job (streamed)",
        tags: ["jobs"],
        params: JobIdParamsSchema,
        produces: ["application/pdf"],
        response: { "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const status = await ownedJob(request, deps, request.params.id);
      if (status.state !== "completed" || !status.result) {
        throw new EsignError(
          "E_NOT_FOUND",
          `job ${status.id} has no signed document (state ${status.state})`,
        );
      }
      return sendStoredPdf(reply, deps.stores, status.result.output, { "x-esign-job-id": status.id });
    },
  );

  api.delete(
    "/v1/jobs/:id",
    {
      schema: {
        summary: "Cancel a job that has not started",
        tags: ["jobs"],
        params: JobIdParamsSchema,
        response: { 200: CancelOutcomeSchema, 409: CancelOutcomeSchema, "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      await ownedJob(request, deps, request.params.id);
      const outcome = await deps.client.cancel(request.params.id);
      return reply.status(outcome.cancelled ? 200 : 409).send(outcome);
    },
  );

  api.get(
    "/v1/jobs/:id/deliveries",
    {
      schema: {
        summary: "Webhook delivery attempts for a job",
        tags: ["jobs"],
        params: JobIdParamsSchema,
        response: {
          200: z.object({ deliveries: z.array(DeliveryAttemptSchema) }),
          "4xx": ErrorSchema,
        },
      },
    },
    async (request) => {
      await ownedJob(request, deps, request.params.id);
      return {
        deliveries: await getDeliveries(deps.redis, request.params.id, { prefix: deps.config.queuePrefix }),
      };
    },
  );
}
