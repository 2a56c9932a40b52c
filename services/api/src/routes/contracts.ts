import { createHash } from "node:crypto";
import {
  buildEvidencePack,
  CONTRACT_STATUSES,
  type ContractRecord,
  type ContractRuntime,
  CreateContractSchema,
  newContractId,
  readOutbox,
  renderCompletionCertificate,
} from "@esign/contracts";
import { EsignError } from "@esign/errors";
import {
  assertWebhookSecretGranted,
  contractDeliveryLogId,
  DeliveryAttemptSchema,
  getDeliveries,
  IdempotencyKeySchema,
} from "@esign/jobs";
import { loadTrustStore, verificationReportJson, verifyPdfSignatures } from "@esign/pades";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { callerOf } from "../auth";
import { ErrorSchema } from "../schemas";
import { signerFor, tenantIdempotencyKey } from "../tenancy";
import { storeUpload } from "../upload";
import type { RouteDeps } from "./deps";
import { sendStoredPdf } from "./documents";
import { requirePdfUpload } from "./sign";

export interface ContractRouteDeps extends RouteDeps {
  contracts: ContractRuntime;
}

const ContractIdParams = z.strictObject({ id: z.string().regex(/^ctr_[0-9a-f]{32}$/, "a contract id") });

const SignerSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  order: z.number(),
  method: z.string(),
  status: z.string(),
  signedAt: z.string().optional(),
  certificateSubject: z.string().optional(),
  declineReason: z.string().optional(),
});

const ContractSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  title: z.string(),
  status: z.enum(CONTRACT_STATUSES),
  createdAt: z.string(),
  updatedAt: z.string(),
  closedAt: z.string().optional(),
  expiresAt: z.string().optional(),
  originalSha256: z.string(),
  sha256: z.string(),
  signatures: z.number(),
  seal: z.object({ signer: z.string(), level: z.string().optional(), sealedAt: z.string().optional() }),
  signers: z.array(SignerSummarySchema),
});

/** A contract as its owner sees it: no token, code or OTP hashes. */
export function contractView(contract: ContractRecord): z.infer<typeof ContractSchema> {
  return {
    id: contract.id,
    tenant: contract.tenant,
    title: contract.title,
    status: contract.status,
    createdAt: contract.createdAt,
    updatedAt: contract.updatedAt,
    ...(contract.closedAt && { closedAt: contract.closedAt }),
    ...(contract.expiresAt && { expiresAt: contract.expiresAt }),
    originalSha256: contract.originalSha256,
    sha256: contract.currentSha256,
    signatures: contract.revisions,
    seal: {
      signer: contract.sealProfile,
      ...(contract.sealLevel && { level: contract.sealLevel }),
      ...(contract.sealed && { sealedAt: contract.sealed.signedAt }),
    },
    signers: contract.signers.map((signer) => ({
      id: signer.id,
      name: signer.name,
      email: signer.email,
      order: signer.order,
      method: signer.method,
      status: signer.status,
      ...(signer.signature && {
        signedAt: signer.signature.signedAt,
        certificateSubject: signer.signature.certificateSubject,
      }),
      ...(signer.declineReason && { declineReason: signer.declineReason }),
    })),
  };
}

const originalKey = (id: string) => `contracts/${id}/original.pdf`;

const CreatedSchema = z.object({
  id: z.string(),
  status: z.string(),
  signers: z.array(z.object({ id: z.string(), email: z.string(), status: z.string(), url: z.string() })),
});

/** What `POST /v1/contracts` answers, for the creation and for a repeat with the same Idempotency-Key. */
function createdView(contract: ContractRecord, links: Map<string, string>): z.infer<typeof CreatedSchema> {
  return {
    id: contract.id,
    status: contract.status,
    signers: contract.signers.map((signer) => ({
      id: signer.id,
      email: signer.email,
      status: signer.status,
      url: links.get(signer.id)!,
    })),
  };
}

/** Reads `POST /v1/contracts`' multipart body: the `contract` JSON field and the `document` file, in either order. */
async function contractUpload(
  request: FastifyRequest,
  deps: ContractRouteDeps,
  id: string,
): Promise<{ contract: z.output<typeof CreateContractSchema>; sha256: string }> {
  if (!request.isMultipart()) {
    throw new EsignError(
      "E_UNSUPPORTED_MEDIA",
      "send multipart/form-data with the fields contract and document",
    );
  }
  let contractJson: string | undefined;
  let sha256: string | undefined;
  for await (const part of request.parts()) {
    if (part.type === "file") {
      if (part.fieldname !== "document") {
        part.file.resume();
        throw new EsignError(
          "E_INVALID_REQUEST",
          `unexpected file field ${part.fieldname}; send the PDF as document`,
        );
      }
      const written = await storeUpload(
        deps.stores.get(deps.contracts.documentStore),
        originalKey(id),
        part.file,
        undefined,
        { maxBytes: deps.config.maxUploadBytes },
      );
      sha256 = written.sha256;
    } else if (part.fieldname === "contract") {
      contractJson = String(part.value);
    }
  }
  if (sha256 === undefined) throw new EsignError("E_NOT_PDF", "the form has no document file");
  if (contractJson === undefined) throw new EsignError("E_INVALID_REQUEST", "the form has no contract field");
  let json: unknown;
  try {
    json = JSON.parse(contractJson);
  } catch {
    throw new EsignError("E_INVALID_REQUEST", "the contract field is not JSON");
  }
  const parsed = CreateContractSchema.safeParse(json);
  if (!parsed.success) {
    throw new EsignError(
      "E_INVALID_REQUEST",
      `invalid contract: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
    );
  }
  if (parsed.data.expiresAt && Date.parse(parsed.data.expiresAt) <= Date.now()) {
    throw new EsignError("E_INVALID_REQUEST", "expiresAt is in the past");
  }
  return { contract: parsed.data, sha256 };
}

/** The owner's contract API: create, read, list, void, documents and evidence. */
export async function contractRoutes(app: FastifyInstance, deps: ContractRouteDeps): Promise<void> {
  const { service, store, audit } = deps.contracts;
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const trustRoots = await loadTrustStore(deps.config.trustRoots);
  const tags = ["contracts"];
  /** The caller's contract; an admin key reads every tenant's (as it does jobs and batches). */
  const owned = async (request: FastifyRequest, id: string) => {
    const caller = callerOf(request);
    return store.require(id, caller.admin ? undefined : caller.tenantId);
  };

  if (!deps.config.smtpUrl) {
    // No SMTP: notices stay in the outbox. It holds OTPs, so only an admin key reads it.
    typed.get(
      "/dev/mail",
      {
        config: { admin: true },
        schema: {
          summary: "Development outbox: the mails the agent would have sent (no SMTP_URL configured)",
          tags,
          response: { 200: z.array(z.record(z.string(), z.unknown())), "4xx": ErrorSchema },
        },
      },
      async () =>
        (await readOutbox(deps.redis, deps.config.queuePrefix)) as unknown as Record<string, unknown>[],
    );
  }

  typed.post(
    "/v1/contracts",
    {
      schema: {
        summary: "Create and send a contract",
        description:
          'multipart/form-data: a field `contract` (JSON: `{"title", "signers": [{"name", "email", "phone", "order", "auth": {"method": "esign-api", "credentialId"} | {"method": "email-otp"} | {"method": "sms-otp"} | {"method": "access-code", "code"}}], "seal": {"signer", "level"}, "expiresAt", "callback", "owner": {"name", "email"}, "language": "en" | "zh-CN", "send": true | false}`) and a file field `document` (the PDF). Signers with the lowest order number are invited at once; the same number signs in parallel. With `"send": false` the contract is created as a `draft`: no invitations, and its signer links answer 409 `E_CONTRACT_NOT_SENT` until `POST /v1/contracts/{id}/send`.',
        tags,
        consumes: ["multipart/form-data"],
        headers: z.looseObject({
          "idempotency-key": IdempotencyKeySchema.optional().describe(
            "Makes the creation safe to retry: a repeat with the same key and the same request answers 200 with the contract the first one created (nothing new is created or sent); the same key with another contract or document answers 422 E_IDEMPOTENCY_KEY_REUSED; while the first is still being created, 503 E_UNAVAILABLE with Retry-After. Keys are the tenant's own (as the jobs' idempotencyKey) and kept as long as the contract.",
          ),
        }),
        response: { 201: CreatedSchema, 200: CreatedSchema, "4xx": ErrorSchema, "5xx": ErrorSchema },
      },
      onRequest: requirePdfUpload,
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const idempotencyKey = tenantIdempotencyKey(caller, request.headers["idempotency-key"]);
      const id = newContractId();
      const documentStore = deps.contracts.documentStore;
      const discardUpload = () =>
        deps.stores
          .get(documentStore)
          .delete(originalKey(id))
          .catch(() => undefined);
      let idempotency: { key: string; claim: { id: string; fingerprint: string } } | undefined;
      try {
        const { contract, sha256 } = await contractUpload(request, deps, id);
        assertWebhookSecretGranted(contract.callback, caller.tenant.webhookSecretIds);
        const sealProfile = signerFor(caller, contract.seal?.signer);
        if (idempotencyKey !== undefined) {
          // The same contract JSON (defaults applied) and the same document make the same request.
          const fingerprint = createHash("sha256")
            .update(JSON.stringify([contract, sha256]))
            .digest("hex");
          const earlier = await store.claimIdempotencyKey(idempotencyKey, { id, fingerprint });
          if (earlier) {
            await discardUpload();
            return reply.status(200).send(await repeatedCreation(earlier, fingerprint));
          }
          idempotency = { key: idempotencyKey, claim: { id, fingerprint } };
        }
        const created = await service.create({
          tenant: caller.tenantId,
          contract,
          id,
          original: { store: documentStore, key: originalKey(id) },
          originalSha256: sha256,
          sealProfile,
          origin: { ip: request.ip, userAgent: request.headers["user-agent"] },
          idempotency,
        });
        return reply.status(201).send(createdView(created.contract, created.links));
      } catch (error) {
        if (!(await store.get(id))) {
          await discardUpload();
          if (idempotency) await store.releaseIdempotencyKey(idempotency.key, idempotency.claim);
        }
        throw error;
      }
    },
  );

  /** A repeat of a creation with the same Idempotency-Key: the contract the first request created. */
  async function repeatedCreation(earlier: { id: string; fingerprint: string }, fingerprint: string) {
    if (earlier.fingerprint !== fingerprint) {
      throw new EsignError(
        "E_IDEMPOTENCY_KEY_REUSED",
        "this Idempotency-Key was used with another contract or document; choose another key",
      );
    }
    const existing = await store.get(earlier.id);
    if (!existing) {
      throw new EsignError(
        "E_UNAVAILABLE",
        "a request with this Idempotency-Key is still being carried out; try again in a moment",
        { retryAfter: 1 },
      );
    }
    // Nothing is sent again: the first request may still be sending its invitations. One that died
    // before sending them all is caught up by POST /v1/contracts/:id/send.
    return createdView(existing, service.links(existing));
  }

  typed.get(
    "/v1/contracts",
    {
      schema: {
        summary: "List contracts, newest first",
        description:
          "A tenant's own contracts; an admin key sees every tenant's, or one tenant's with `tenant`.",
        tags,
        querystring: z.object({
          status: z.enum(CONTRACT_STATUSES).optional(),
          tenant: z.string().min(1).optional().describe("Admin keys only: this tenant's contracts"),
          offset: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: {
          200: z.object({
            items: z.array(ContractSchema),
            total: z.number(),
            offset: z.number(),
            limit: z.number(),
          }),
          "4xx": ErrorSchema,
        },
      },
    },
    async (request) => {
      const { status, tenant, offset, limit } = request.query;
      const caller = callerOf(request);
      if (tenant !== undefined && !caller.admin && tenant !== caller.tenantId) {
        throw new EsignError("E_FORBIDDEN", "only an admin key lists another tenant's contracts");
      }
      const page = await store.list(caller.admin ? tenant : caller.tenantId, { status, offset, limit });
      return { items: page.items.map(contractView), total: page.total, offset, limit };
    },
  );

  typed.get(
    "/v1/contracts/:id",
    {
      schema: {
        summary: "A contract and its signers",
        tags,
        params: ContractIdParams,
        response: { 200: ContractSchema, "4xx": ErrorSchema },
      },
    },
    async (request) => contractView(await owned(request, request.params.id)),
  );

  typed.get(
    "/v1/contracts/:id/deliveries",
    {
      schema: {
        summary: "Webhook delivery attempts for a contract's events (contract.sent, signer events, …)",
        tags,
        params: ContractIdParams,
        response: {
          200: z.object({ deliveries: z.array(DeliveryAttemptSchema) }),
          "4xx": ErrorSchema,
        },
      },
    },
    async (request) => {
      const contract = await owned(request, request.params.id);
      return {
        deliveries: await getDeliveries(deps.redis, contractDeliveryLogId(contract.id), {
          prefix: deps.config.queuePrefix,
        }),
      };
    },
  );

  typed.get(
    "/v1/contracts/:id/document",
    {
      schema: {
        summary: "The PDF as it stands (after the signatures so far)",
        tags,
        params: ContractIdParams,
        produces: ["application/pdf"],
        response: { "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const contract = await owned(request, request.params.id);
      return sendStoredPdf(reply, deps.stores, contract.current, {
        "x-esign-sha256": contract.currentSha256,
      });
    },
  );

  typed.post(
    "/v1/contracts/:id/send",
    {
      schema: {
        summary: "Send a draft: invite the first signers",
        description:
          'Moves a `draft` (created with `"send": false`) to `in_progress`: the first signers get their turn and their invitations, `contract.sent` is announced and reminders start. Sending a contract already in progress changes nothing (invitations not delivered yet are sent again); a closed one answers 409 `E_CONTRACT_CLOSED`.',
        tags,
        params: ContractIdParams,
        response: { 200: ContractSchema, "4xx": ErrorSchema },
      },
    },
    async (request) => contractView(await service.send(request.params.id, callerOf(request).tenantId)),
  );

  typed.post(
    "/v1/contracts/:id/void",
    {
      schema: {
        summary: "Void an open contract (a draft or one in progress)",
        description:
          "A tenant's own contract; an admin key voids any tenant's. The audit trail's `voided` event names the key that voided it (`details.by`: its tenant, name and whether it is an admin key).",
        tags,
        params: ContractIdParams,
        body: z.object({ reason: z.string().max(500).optional() }).optional(),
        response: { 200: ContractSchema, "4xx": ErrorSchema },
      },
    },
    async (request) => {
      const { tenantId, admin, keyName } = callerOf(request);
      // Resolved as `owned` resolves a read: an admin key voids any tenant's contract (one sent by
      // mistake), a tenant key only its own (another tenant's is 404, as if it did not exist).
      return contractView(
        await service.void(request.params.id, admin ? undefined : tenantId, request.body?.reason, {
          tenant: tenantId,
          keyName,
          admin,
        }),
      );
    },
  );

  typed.get(
    "/v1/contracts/:id/audit",
    {
      schema: {
        summary: "The contract's hash-chained audit trail; `?verify=1` checks the chain against its head",
        tags,
        params: ContractIdParams,
        querystring: z.object({ verify: z.enum(["0", "1", "true", "false"]).optional() }),
        response: {
          200: z.object({
            contractId: z.string(),
            entries: z.array(z.record(z.string(), z.unknown())),
            verification: z
              .object({
                valid: z.boolean(),
                entries: z.number(),
                head: z.string(),
                brokenAt: z.number().optional(),
                reason: z.string().optional(),
              })
              .optional(),
          }),
          "4xx": ErrorSchema,
        },
      },
    },
    async (request) => {
      const contract = await owned(request, request.params.id);
      const verify = request.query.verify === "1" || request.query.verify === "true";
      const verification = verify ? await audit.verify(contract.id) : undefined;
      const entries = await audit.read(contract.id).catch((error: unknown) => {
        if (verification && !verification.valid) return [];
        throw error;
      });
      return {
        contractId: contract.id,
        entries: entries as unknown as Record<string, unknown>[],
        ...(verification && { verification }),
      };
    },
  );

  const certificateOf = async (contract: ContractRecord) => {
    const verification = await audit.verify(contract.id);
    return renderCompletionCertificate({
      contractId: contract.id,
      title: contract.title,
      tenant: contract.tenant,
      createdAt: contract.createdAt,
      ...(contract.status === "completed" && contract.closedAt && { completedAt: contract.closedAt }),
      status: contract.status,
      originalSha256: contract.originalSha256,
      finalSha256: contract.currentSha256,
      signers: contract.signers.map((signer) => ({
        name: signer.name,
        email: signer.email,
        method: signer.method,
        status: signer.status,
        ...(signer.signature && {
          signedAt: signer.signature.signedAt,
          certificateSubject: signer.signature.certificateSubject,
          digest: signer.signature.digest,
          ip: signer.signature.ip,
          userAgent: signer.signature.userAgent,
        }),
      })),
      auditHead: { entries: verification.entries, hash: verification.head },
    });
  };

  typed.get(
    "/v1/contracts/:id/certificate",
    {
      schema: {
        summary:
          "Certificate of completion (PDF): signers, methods, times, document digests, audit chain head",
        tags,
        params: ContractIdParams,
        produces: ["application/pdf"],
        response: { "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const contract = await owned(request, request.params.id);
      return (reply as FastifyReply).type("application/pdf").send(Buffer.from(await certificateOf(contract)));
    },
  );

  typed.get(
    "/v1/contracts/:id/evidence",
    {
      schema: {
        summary:
          "Evidence pack (zip): the signed PDF, its validation report, the audit trail and the certificate",
        tags,
        params: ContractIdParams,
        produces: ["application/zip"],
        response: { "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const contract = await owned(request, request.params.id);
      const { store: documents, key } = deps.stores.resolve(contract.current);
      const signedPdf = await documents.read(key, { maxBytes: deps.config.maxUploadBytes * 2 });
      const source = await documents.openSource(key);
      let validationReport: unknown;
      try {
        const report = await verifyPdfSignatures(source, { trustRoots });
        validationReport = JSON.parse(verificationReportJson(report, trustRoots.length > 0));
      } finally {
        await source.close?.();
      }
      const pack = await buildEvidencePack({
        signedPdf,
        validationReport,
        audit: await audit.read(contract.id),
        certificatePdf: await certificateOf(contract),
      });
      return (reply as FastifyReply)
        .type("application/zip")
        .header("content-disposition", `attachment; filename="${contract.id}-evidence.zip"`)
        .send(Buffer.from(pack));
    },
  );
}
