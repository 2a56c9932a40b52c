import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { callerOf } from "../auth";
import { ErrorSchema } from "../schemas";

const CallerViewSchema = z.object({
  tenant: z.string(),
  admin: z.boolean(),
  /** The key's configured name, or the first characters of its hash: never the key. */
  keyName: z.string(),
});

/** Who the presented API key is: the console checks a key with it and shows its scope. */
export async function callerRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/v1/whoami",
    {
      schema: {
        summary: "The tenant and scope of the presented API key",
        tags: ["keys"],
        response: { 200: CallerViewSchema, "4xx": ErrorSchema },
      },
    },
    async (request) => {
      const { tenantId, admin, keyName } = callerOf(request);
      return { tenant: tenantId, admin, keyName };
    },
  );
}
