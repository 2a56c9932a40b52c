import { SigningUsageLedger, SigningUsageReportSchema } from "@esign/jobs";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ErrorSchema } from "../schemas";
import type { RouteDeps } from "./deps";

/**
 * Paid signing per signer profile, as the workers counted it: calls made, answers (replays among
 * them), signatures delivered, and the bounds on what the signing service billed. Operators only:
 * profiles are the deployment's, not a tenant's.
 */
export async function usageRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const ledger = new SigningUsageLedger(deps.redis, deps.config.queuePrefix);

  api.get(
    "/v1/usage",
    {
      config: { admin: true },
      schema: {
        summary: "Paid signing per signer profile: calls made vs signatures delivered (admin key)",
        tags: ["usage"],
        response: { 200: SigningUsageReportSchema, "4xx": ErrorSchema },
      },
    },
    async () => ledger.report(),
  );
}
