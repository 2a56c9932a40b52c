import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { SimulatorContext } from "../context";
import type { FaultConfigInput } from "../faults";
import { REVOCATION_REASONS, type Revocation, type RevocationReason } from "../revocation";
import { guardAdminRequest } from "./auth";
import { ServiceError } from "./service-error";

const revokeSchema = z.object({ reason: z.enum(REVOCATION_REASONS).default("keyCompromise") }).strict();

function credentialOr404(context: SimulatorContext, credentialId: string) {
  const credential = context.credentials.get(credentialId);
  if (!credential) throw new ServiceError(404, "not_found", `No credential ${credentialId}`);
  return credential;
}

/** Revokes a credential's certificate: OCSP and CRLs report it, signing with it is refused. */
export async function revokeCredential(
  context: SimulatorContext,
  credentialId: string,
  reason: RevocationReason = "keyCompromise",
): Promise<Revocation> {
  credentialOr404(context, credentialId);
  const { certificate } = context.credentialCertificate(credentialId);
  return context.revocations.revoke(certificate.issuer, certificate.serialNumber, reason);
}

/** Test and operator controls: usage, request log, faults, revocation, OTPs. */
export function registerAdminRoutes(app: FastifyInstance, context: SimulatorContext): void {
  const admin = { onRequest: guardAdminRequest(context) };

  app.get("/admin/usage", admin, async () => context.usage.report());
  app.post("/admin/usage/reset", admin, async (_request, reply) => {
    context.usage.reset();
    return reply.code(204).send();
  });

  app.get("/admin/requests", admin, async () => context.requestLog.list());
  app.delete("/admin/requests", admin, async (_request, reply) => {
    context.requestLog.clear();
    return reply.code(204).send();
  });

  app.get("/admin/faults", admin, async () => context.faults.current());
  app.put("/admin/faults", admin, async (request) =>
    context.faults.set((request.body ?? {}) as FaultConfigInput),
  );
  app.delete("/admin/faults", admin, async (_request, reply) => {
    context.faults.clear();
    return reply.code(204).send();
  });

  app.post("/admin/credentials/:id/revoke", admin, async (request) => {
    const { id } = request.params as { id: string };
    const { reason } = revokeSchema.parse(request.body ?? {});
    return revokeCredential(context, id, reason);
  });

  app.get("/admin/otp/:credentialId", admin, async (request) => {
    const { credentialId } = request.params as { credentialId: string };
    credentialOr404(context, credentialId);
    const current = context.otps.peek(credentialId);
    if (!current) throw new ServiceError(404, "not_found", `No OTP was sent for ${credentialId}`);
    return { credentialId, otp: current.otp, expiresAt: new Date(current.expiresAt).toISOString() };
  });
}
