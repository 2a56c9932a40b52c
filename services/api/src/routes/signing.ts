import { MAX_SIGNATURE_IMAGE_BYTES, readSignatureImage } from "@esign/appearance";
import type { ContractRuntime } from "@esign/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ErrorSchema } from "../schemas";
import type { RouteDeps } from "./deps";
import { sendStoredPdf } from "./documents";

export interface SigningRouteDeps extends RouteDeps {
  contracts: ContractRuntime;
}

/** Signer tokens are 256-bit base64url values (43 characters). */
const TokenParams = z.strictObject({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "a signing token") });

const SignerViewSchema = z.object({
  contractId: z.string(),
  title: z.string(),
  status: z.string(),
  signer: z.object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    status: z.string(),
    order: z.number(),
  }),
  auth: z.object({ method: z.string() }),
  yourTurn: z.boolean(),
  attemptsLeft: z.number(),
  /** Where this signer's visible signature goes: PDF points on the page as the reader sees it. */
  placement: z.object({
    page: z.literal("last"),
    rect: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  }),
  /** The language the contract names; the signer page starts in it rather than Accept-Language. */
  language: z.enum(["en", "zh-CN"]).optional(),
  /** Who asks for the signature (CONTRACT_SENDER_NAME), as the invitation names it; on GET. */
  sender: z.string().optional(),
});

/** The data URL of the largest signature image accepted: its prefix and base64 of the bytes. */
const SIGNATURE_IMAGE_URL_MAX =
  "data:image/png;base64,".length + Math.ceil(MAX_SIGNATURE_IMAGE_BYTES / 3) * 4;

const originOf = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers["user-agent"] });

/**
 * The signer's side, authorised by the token of the signer link (`…/s/<token>`), no API key:
 * 409 E_NOT_YOUR_TURN before the signer's order number comes, 401 E_AUTH_FAILED for a wrong code,
 * 423 E_LOCKED after five, 409 E_CONTRACT_NOT_SENT while the contract is a draft, 409
 * E_CONTRACT_CLOSED once it is closed.
 */
export async function signingRoutes(app: FastifyInstance, deps: SigningRouteDeps): Promise<void> {
  const { service } = deps.contracts;
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["signing"];
  // The token is the credential: no API key, no bearer security in the OpenAPI document.
  const signerRoute = { config: { signerLink: true } };
  const errors = { "4xx": ErrorSchema, "5xx": ErrorSchema };

  typed.get(
    "/v1/signing/:token",
    {
      ...signerRoute,
      schema: {
        summary: "What the signer is asked to sign: title, signer, status, authentication method",
        tags,
        security: [],
        params: TokenParams,
        response: { 200: SignerViewSchema, ...errors },
      },
    },
    async (request) => ({
      ...(await service.view(request.params.token, originOf(request))),
      sender: deps.contracts.senderName,
    }),
  );

  typed.get(
    "/v1/signing/:token/document",
    {
      ...signerRoute,
      schema: {
        summary: "The PDF as it stands; once the contract is completed, the signed PDF",
        tags,
        security: [],
        params: TokenParams,
        produces: ["application/pdf"],
        response: errors,
      },
    },
    async (request, reply) => {
      const contract = await service.documentFor(request.params.token);
      return sendStoredPdf(reply, deps.stores, contract.current, {
        "x-esign-sha256": contract.currentSha256,
      });
    },
  );

  typed.post(
    "/v1/signing/:token/challenge",
    {
      ...signerRoute,
      schema: {
        summary: "Send the signer's one-time password",
        description:
          "email-otp / sms-otp: a 6-digit code valid 10 minutes; esign-api: the signing service sends its OTP for the signer's credential; access-code: nothing to send.",
        tags,
        security: [],
        params: TokenParams,
        response: {
          200: z.object({
            method: z.string(),
            sent: z.boolean(),
            to: z.string().optional(),
            expiresAt: z.string().optional(),
          }),
          ...errors,
        },
      },
    },
    async (request) => service.challenge(request.params.token, originOf(request)),
  );

  typed.post(
    "/v1/signing/:token/sign",
    {
      ...signerRoute,
      schema: {
        summary: "Authenticate and sign",
        description:
          "`consent: true` and what the method needs: `otp` (email-otp, sms-otp), `pin` and `otp` (esign-api), `code` (access-code). Answers 200 once the signature is in the document; 202 with `signer.status` `signing` when it takes longer than the server's wait (GET the link for the outcome). A repeated request joins the signature under way.",
        tags,
        security: [],
        params: TokenParams,
        body: z.object({
          consent: z.boolean(),
          otp: z.string().max(32).optional(),
          pin: z.string().max(64).optional(),
          code: z.string().max(200).optional(),
          /**
           * A drawn or typed signature for the visible signature: a `data:image/png;base64,` URL of
           * at most 200 KiB of PNG, at most 2000 pixels a side.
           */
          signatureImage: z
            .string()
            .max(SIGNATURE_IMAGE_URL_MAX, "signatureImage is larger than 200 KiB")
            .optional(),
        }),
        response: { 200: SignerViewSchema, 202: SignerViewSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { signatureImage, ...proof } = request.body;
      const view = await service.sign(
        request.params.token,
        {
          ...proof,
          ...(signatureImage !== undefined && { signatureImage: readSignatureImage(signatureImage) }),
        },
        originOf(request),
        deps.config.syncTimeoutMs,
      );
      return reply.status(view.signer.status === "signing" ? 202 : 200).send(view);
    },
  );

  typed.post(
    "/v1/signing/:token/decline",
    {
      ...signerRoute,
      schema: {
        summary: "Decline to sign; the contract is closed as declined",
        tags,
        security: [],
        params: TokenParams,
        body: z.object({ reason: z.string().trim().min(1).max(1000) }),
        response: { 200: SignerViewSchema, ...errors },
      },
    },
    async (request) => service.decline(request.params.token, request.body.reason, originOf(request)),
  );
}
