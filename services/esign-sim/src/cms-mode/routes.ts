import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { SimulatorContext } from "../context";
import { requireApiKey } from "../http/auth";
import { invalidParameter, invalidRequest } from "../http/service-error";
import {
  IDEMPOTENCY_KEY_HEADER,
  IdempotencyStore,
  REPLAYED_HEADER,
  requestFingerprint,
} from "../idempotency";
import { signCms } from "./sign-cms";

const SHA256_LENGTH = 32;

/** Strict: a request with any field beyond these (a document, say) is refused, not ignored. */
const signRequestSchema = z
  .object({
    credentialId: z.string().min(1),
    digest: z.base64(),
    digestAlgorithm: z.literal("sha256"),
    level: z.enum(["B-B", "B-T", "B-LT"]),
  })
  .strict();

/** The CMS-returning "E-sign API": a digest in, a detached PAdES CMS (and LTV data) out. */
export function registerCmsRoutes(app: FastifyInstance, context: SimulatorContext): void {
  app.post(
    "/esign/v1/sign",
    { config: { groups: ["cms", "sign"] }, preHandler: requireApiKey(context) },
    async (request, reply) => {
      const input = signRequestSchema.parse(request.body);
      const idempotencyKey = IdempotencyStore.keyOf(request.headers[IDEMPOTENCY_KEY_HEADER]);
      const digest = Buffer.from(input.digest, "base64");
      if (digest.length !== SHA256_LENGTH) throw invalidParameter("digest");
      const credential = context.credentials.get(input.credentialId);
      if (!credential) throw invalidParameter("credentialId");
      if (credential.authMode !== "implicit") {
        throw invalidRequest(`Credential ${credential.id} needs explicit authorisation; use the CSC API`);
      }
      const client = request.sim.client!;
      const { answer, replayed } = await context.idempotency.once(
        client.id,
        idempotencyKey,
        requestFingerprint("esign/v1/sign", input),
        async () => {
          context.refuseIfRevoked(credential.id);
          const reservation = context.clients.reserveSignCall(client);
          try {
            const result = await signCms(
              context,
              credential,
              digest,
              input.level,
              request.sim.fault.wrongSignature,
            );
            reservation.bill(1);
            return result;
          } finally {
            reservation.release();
          }
        },
      );
      if (replayed) {
        context.usage.recordCall(client.id, "replays");
        reply.header(REPLAYED_HEADER, "true");
      }
      return answer;
    },
  );
}
