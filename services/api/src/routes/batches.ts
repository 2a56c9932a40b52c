import { EsignError } from "@esign/errors";
import {
  assertWebhookSecretGranted,
  BatchClient,
  BatchItemSchema,
  BatchSettingsSchema,
  type BatchStatus,
  batchFormProblems,
  defaultManifestRef,
  MAX_INLINE_ITEMS,
  newBatchId,
  type StorePrefix,
  tenantJobObjects,
} from "@esign/jobs";
import { assertAllowed, type ObjectRef, type TenantStoragePolicy } from "@esign/storage";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { callerOf } from "../auth";
import { ErrorSchema, JobIdParamsSchema } from "../schemas";
import { signerFor, uploadArea } from "../tenancy";
import type { RouteDeps } from "./deps";

/** The batch request minus what the gateway decides (tenant); inline items are capped. */
const CreateBatchBodySchema = BatchSettingsSchema.omit({ tenant: true }).extend({
  items: z.array(BatchItemSchema).min(1).max(MAX_INLINE_ITEMS).optional(),
});

const RefSchema = z.object({ store: z.string(), key: z.string() });
const CountsSchema = z.object({
  total: z.number(),
  pending: z.number(),
  completed: z.number(),
  failed: z.number(),
  cancelled: z.number(),
});
const BatchViewSchema = z.object({
  id: z.string(),
  state: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  counts: CountsSchema,
  throughput: z.number(),
  etaSeconds: z.number().nullable(),
  manifest: RefSchema,
  submissionError: z.string().optional(),
});

function view(status: BatchStatus) {
  const { tenant: _tenant, ...visible } = status;
  return visible;
}

/** Every key under `prefix` must be the tenant's: some allowed prefix must cover the whole of it. */
function assertPrefixAllowed({ store, prefix }: StorePrefix, policy: TenantStoragePolicy): void {
  const allowed = Object.hasOwn(policy.stores, store) ? policy.stores[store] : undefined;
  if (!allowed?.some((each) => prefix.startsWith(each))) {
    throw new EsignError(
      "E_FORBIDDEN",
      `${store}:${prefix}* is outside the tenant's allowed stores and prefixes`,
    );
  }
}

/** A batch of another tenant does not exist as far as this caller can tell. */
async function ownedBatch(request: FastifyRequest, client: BatchClient, id: string): Promise<BatchStatus> {
  const caller = callerOf(request);
  const status = await client.get(id);
  if (status.tenant !== caller.tenantId && !caller.admin)
    throw new EsignError("E_NOT_FOUND", `no batch ${id}`);
  return status;
}

export async function batchRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const client = new BatchClient({
    connection: deps.redis,
    prefix: deps.config.queuePrefix,
    onError: (error) => app.log.error({ err: error }, "batch queue connection error"),
  });
  app.addHook("onClose", () => client.close());

  api.post(
    "/v1/batches",
    {
      schema: {
        summary: "Submit a batch of documents",
        description:
          "One of: `items` (inline, up to 1000), `itemsManifest` (JSON Lines of items in storage), or " +
          "`source` + `target` (every PDF under a prefix, signed into the same relative names under " +
          "another). `options` apply to every item unless the item overrides them. A document that " +
          "fails does not fail the batch; the result manifest lists every item's outcome.",
        tags: ["batches"],
        body: CreateBatchBodySchema,
        response: { 202: z.object({ id: z.string(), url: z.string() }), "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { items, ...settings } = request.body;
      const problems = batchFormProblems({ ...settings, tenant: caller.tenantId }, items !== undefined);
      if (problems.length > 0) throw new EsignError("E_INVALID_JOB", `invalid batch: ${problems.join("; ")}`);
      const policy = {
        stores: caller.tenant.stores,
        signers: caller.tenant.signers ?? [caller.tenant.signer],
        webhookSecretIds: caller.tenant.webhookSecretIds,
      };
      for (const callback of [settings.callback, settings.options.callback]) {
        assertWebhookSecretGranted(callback, policy.webhookSecretIds);
      }
      for (const item of items ?? []) {
        const { output } = tenantJobObjects(item, policy);
        // Refused now rather than after the signing call, which may be paid for.
        await deps.stores.get(output.store).checkWritable(output.key);
        if (item.signer) signerFor(caller, item.signer);
        assertWebhookSecretGranted(item.callback, policy.webhookSecretIds);
      }
      if (settings.itemsManifest) assertAllowed(settings.itemsManifest, policy);
      if (settings.source) assertPrefixAllowed(settings.source, policy);
      if (settings.target) assertPrefixAllowed(settings.target, policy);

      const id = newBatchId();
      const manifest: ObjectRef =
        settings.manifest ??
        (items
          ? {
              store: caller.tenant.uploadStore,
              key: `${uploadArea(caller, "")}batches/${id}.manifest.jsonl`,
            }
          : defaultManifestRef({ ...settings, tenant: caller.tenantId }, id));
      assertAllowed(manifest, policy);
      await client.create(
        {
          ...settings,
          ...(items && { items }),
          manifest,
          options: { ...settings.options, signer: signerFor(caller, settings.options.signer) },
          tenant: caller.tenantId,
        },
        { id, policy },
      );
      return reply.status(202).send({ id, url: `/v1/batches/${id}` });
    },
  );

  api.get(
    "/v1/batches",
    {
      schema: {
        summary: "The most recent batches (newest first) with their progress",
        description: "A tenant's own batches; an admin key sees every tenant's.",
        tags: ["batches"],
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
        response: { 200: z.object({ batches: z.array(BatchViewSchema) }), "4xx": ErrorSchema },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const batches = await client.list({
        limit: request.query.limit,
        include: (status) => caller.admin || status.tenant === caller.tenantId,
      });
      return { batches: batches.map(view) };
    },
  );

  api.get(
    "/v1/batches/:id",
    {
      schema: {
        summary: "A batch's progress: counts by state, throughput, ETA, and its result manifest",
        tags: ["batches"],
        params: JobIdParamsSchema,
        response: { 200: BatchViewSchema, "4xx": ErrorSchema },
      },
    },
    async (request) => view(await ownedBatch(request, client, request.params.id)),
  );

  api.delete(
    "/v1/batches/:id",
    {
      schema: {
        summary: "Cancel a batch: waiting documents are removed, running ones finish",
        tags: ["batches"],
        params: JobIdParamsSchema,
        response: { 200: z.object({ cancelled: z.number(), state: z.string() }), "4xx": ErrorSchema },
      },
    },
    async (request) => {
      await ownedBatch(request, client, request.params.id);
      return client.cancel(request.params.id);
    },
  );
}
