import { createContractRuntime } from "@esign/contracts";
import { apiRateLimitKeyPrefix, BoundedRedis, SigningClient } from "@esign/jobs";
import { createLogger } from "@esign/runtime";
import { createStores, type StoreRegistry } from "@esign/storage";
import fastifyMultipart from "@fastify/multipart";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from "fastify-type-provider-zod";
import { Redis } from "ioredis";
import { authPlugin } from "./auth";
import type { ApiConfig } from "./config";
import { registerErrorHandler } from "./errors";
import { adminRoutes } from "./routes/admin";
import { batchRoutes } from "./routes/batches";
import { callerRoutes } from "./routes/caller";
import { contractRoutes } from "./routes/contracts";
import type { RouteDeps } from "./routes/deps";
import { healthRoutes } from "./routes/health";
import { jobRoutes } from "./routes/jobs";
import { pageRoutes } from "./routes/pages";
import { signRoutes } from "./routes/sign";
import { signingRoutes } from "./routes/signing";
import { templateRoutes } from "./routes/templates";
import { usageRoutes } from "./routes/usage";
import { verifyRoutes } from "./routes/verify";

/** The signer API, authorised by the token in the signer link rather than an API key. */
const SIGNER_LINK_API = "/v1/signing/";
/** How long the gateway waits for Redis at start before serving anyway (503 until Redis answers). */
const REDIS_START_WAIT_MS = 5_000;

export interface BuildApiOptions {
  config: ApiConfig;
  /** Shared with an embedding process (all-in-one); created from config.redisUrl otherwise. */
  redis?: Redis;
  stores?: StoreRegistry;
  /** Where log lines go; default stdout. */
  logDestination?: Parameters<typeof createLogger>[1];
}

/** The HTTP gateway as a fastify instance; `listen` is the caller's business. */
export async function buildApi(options: BuildApiOptions): Promise<FastifyInstance> {
  const { config } = options;
  // Bounded: while Redis is unreachable or silent a request fails 503 within the command timeout,
  // and nothing is left queued to run after the client was told it failed.
  const redis =
    options.redis ?? new BoundedRedis(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs });
  if (redis instanceof BoundedRedis) await redis.connected(REDIS_START_WAIT_MS);
  // Only ever duplicated, for the blocking reads of QueueEvents (waitFor): never connects itself.
  const eventsRedis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  const stores = options.stores ?? createStores(config.stores);
  const client = new SigningClient({
    connection: redis,
    eventsConnection: eventsRedis,
    prefix: config.queuePrefix,
  });
  const logger = createLogger({ name: "esign-api", level: config.logLevel }, options.logDestination);
  const contracts = createContractRuntime({
    settings: config,
    redis,
    eventsConnection: eventsRedis,
    prefix: config.queuePrefix,
    stores,
    defaultPublicUrl: `http://${config.host}:${config.port}`,
    logger,
  });
  const deps: RouteDeps = { config, client, stores, redis, contracts };

  const app = Fastify({
    // Typed as fastify's logger so the instance keeps fastify's default generics (routes take it).
    loggerInstance: logger as FastifyBaseLogger,
    // JSON bodies are small; PDFs bypass this limit and are counted while streaming (upload.ts).
    bodyLimit: 1024 * 1024,
    // Idle sockets and slow requests are cut off (answered 408 or closed); 0 would wait forever.
    connectionTimeout: config.requestTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    // Node checks requestTimeout on this interval (default 30 s): keep the cut-off close to the setting.
    http: { connectionsCheckingInterval: Math.min(30_000, Math.ceil(config.requestTimeoutMs / 4)) },
  });
  // Once per outage, not at every reconnection attempt; requests meanwhile answer 503.
  let redisUp = redis.status === "ready";
  redis.on("error", (error: Error) => {
    if (redisUp) app.log.warn({ err: error }, "Redis connection lost: answering 503 until it returns");
    redisUp = false;
  });
  redis.on("ready", () => {
    if (!redisUp) app.log.info("Redis connected");
    redisUp = true;
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  // A signer's link carries its token in the path: no page or answer of ours may pass it on as a
  // Referer to another site (the pages load nothing from elsewhere anyway).
  app.addHook("onSend", async (_request, reply) => {
    reply.header("referrer-policy", "no-referrer");
  });
  // The PDF body stays a stream: it is counted, checked and written to storage chunk by chunk.
  app.addContentTypeParser("application/pdf", (_request, payload, done) => done(null, payload));
  // Multipart uploads are streamed the same way (request.file()); one file, options as fields.
  await app.register(fastifyMultipart, {
    // A contract's JSON field (up to 50 signers) is the largest field a form carries.
    limits: { files: 1, fields: 20, fieldSize: 64 * 1024, fileSize: config.maxUploadBytes + 1 },
    throwFileSizeLimit: false,
  });

  app.addHook("onClose", async () => {
    await contracts?.close();
    await client.close();
    if (!options.stores) await stores.close();
    eventsRedis.disconnect();
    if (!options.redis) redis.disconnect();
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "esign-agent API",
        version: "1.0.0",
        description: "Sign PDFs as PAdES; only digests leave the premises.",
      },
      components: {
        securitySchemes: {
          apiKey: { type: "http", scheme: "bearer", description: "API key as a bearer token" },
        },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs", uiConfig: { deepLinking: false } });
  app.get("/openapi.json", { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  // The signer link's POSTs (challenge, sign, decline) have their own, much lower limit per address
  // (config.signerLinkRateLimitPerMinute). Set before the limiter registers: it reads each route's
  // config as the route is added.
  app.addHook("onRoute", (route) => {
    const methods = [route.method].flat();
    if (methods.includes("POST") && route.url.startsWith(SIGNER_LINK_API)) {
      route.config = {
        ...route.config,
        rateLimit: {
          max: config.signerLinkRateLimitPerMinute,
          timeWindow: 60_000,
          keyGenerator: (request) => `signer-link:${request.ip}`,
        },
      };
    }
  });
  await app.register(fastifyRateLimit, {
    max: config.rateLimitPerMinute,
    timeWindow: 60_000,
    redis,
    nameSpace: apiRateLimitKeyPrefix(config.queuePrefix),
    keyGenerator: (request) => request.caller?.keyId ?? request.ip,
    allowList: (request) => Boolean(request.routeOptions.config.public),
    // After auth (onRequest), so that a known caller is counted by key rather than by address.
    hook: "preHandler",
  });
  // Refused keys are answered in onRequest and never reach the limiter above: they are counted
  // per address here, so that guessing keys is limited too.
  const refusedKeyLimit = app.createRateLimit({ keyGenerator: (request) => `refused-key:${request.ip}` });
  await app.register(authPlugin, {
    apiKeys: config.apiKeys,
    tenants: config.tenants,
    countRefusedKey: async (request) => {
      const limit = await refusedKeyLimit(request);
      return limit.isAllowed || !limit.isExceeded ? undefined : limit.ttlInSeconds;
    },
  });

  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(async (scope) => signRoutes(scope, deps));
  await app.register(async (scope) => jobRoutes(scope, deps));
  await app.register(async (scope) => batchRoutes(scope, deps));
  await app.register(async (scope) => templateRoutes(scope, deps));
  await app.register(async (scope) => verifyRoutes(scope, deps));
  await app.register(async (scope) => usageRoutes(scope, deps));
  await app.register(async (scope) => adminRoutes(scope, deps));
  await app.register(callerRoutes);
  await app.register(pageRoutes);
  if (contracts) {
    await app.register(async (scope) => contractRoutes(scope, { ...deps, contracts }));
    await app.register(async (scope) => signingRoutes(scope, { ...deps, contracts }));
  }
  return app;
}
