import type { Server } from "node:http";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { registerCmsRoutes } from "./cms-mode/routes";
import type { SimulatorContext } from "./context";
import { registerCscRoutes } from "./csc/routes";
import { registerAdminRoutes } from "./http/admin-routes";
import { registerPkiRoutes } from "./http/pki-routes";
import { installPlumbing } from "./http/plumbing";

/**
 * The simulator's fastify app on an http.Server that is already listening (its port has to be
 * known before the PKI, whose certificates carry the base URL, can exist).
 */
export function buildApp(context: SimulatorContext, server: Server): FastifyInstance {
  const app = Fastify({
    loggerInstance: context.log as FastifyBaseLogger,
    serverFactory: (handler) => {
      server.on("request", handler);
      return server;
    },
    bodyLimit: 1024 * 1024,
  });
  installPlumbing(app, context);
  app.get("/healthz", async () => ({ status: "ok" }));
  registerPkiRoutes(app, context);
  registerCscRoutes(app, context);
  registerCmsRoutes(app, context);
  registerAdminRoutes(app, context);
  return app;
}
