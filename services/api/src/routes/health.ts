import { readSignerHealth, watchRedisPersistence } from "@esign/jobs";
import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { RouteDeps } from "./deps";

/** Liveness, readiness (can we reach what a request needs?) and Prometheus metrics; no key needed. */
export async function healthRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "esign_api_" });
  const stopWatchingPersistence = watchRedisPersistence(deps.redis, registry, app.log);
  app.addHook("onClose", async () => stopWatchingPersistence());

  app.get("/healthz", { config: { public: true }, schema: { hide: true } }, async () => ({ status: "ok" }));

  app.get("/readyz", { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    // The workers' last probe of each signer profile (credentials/info...), not older than a few
    // intervals: one cheap call per interval however often /readyz is asked.
    const profiles: Record<string, string> = {};
    await Promise.all([
      deps.redis.ping().then(
        () => (checks.redis = "ok"),
        (error: Error) => (checks.redis = error.message),
      ),
      readSignerHealth(deps.redis, deps.config.queuePrefix).then(
        (health) => {
          for (const [profile, { ok, reason }] of health)
            profiles[`profile:${profile}`] = ok ? "ok" : reason!;
        },
        () => undefined, // Redis itself failing is the redis check's to report.
      ),
      ...deps.stores.names().map((name) =>
        deps.stores
          .get(name)
          .exists(".readyz-probe")
          .then(
            () => (checks[`store:${name}`] = "ok"),
            (error: Error) => (checks[`store:${name}`] = error.message),
          ),
      ),
      // The signing service answers at all (any HTTP status): jobs could not finish without it.
      ...deps.config.readyUrls.map((url) =>
        fetch(url, { signal: AbortSignal.timeout(3000) }).then(
          () => (checks[`signer:${new URL(url).host}`] = "ok"),
          (error: Error) => (checks[`signer:${new URL(url).host}`] = error.message),
        ),
      ),
    ]);
    // Not ready when every probed profile fails: then every signing call would. One failing
    // profile among working ones is reported, but the API still serves the others' jobs.
    const probed = Object.values(profiles);
    const signingPossible = probed.length === 0 || probed.includes("ok");
    const ready = signingPossible && Object.values(checks).every((value) => value === "ok");
    return reply
      .status(ready ? 200 : 503)
      .send({ status: ready ? "ready" : "not ready", checks: { ...checks, ...profiles } });
  });

  app.get("/metrics", { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
