/**
 * `pnpm start`: the whole agent in one process with embedded defaults, for a first run, demos and
 * development. API + worker + notifier, local-directory storage, the built-in E-sign API simulator.
 * Production runs the services separately (docker-compose.yml, infra/k8s).
 *
 * The composition root: it decides what the pieces share (the Redis it found, the local store, the
 * simulator as signing service) and hands each service its typed configuration, read from the
 * environment like the standalone service's, with those decisions as overrides.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { dataDirQueuePrefix } from "@esign/jobs";
import {
  configLoader,
  integer,
  json,
  LogLevelSchema,
  PortSchema,
  reachableUrl,
  runService,
  text,
} from "@esign/runtime";
import { defaultStoresConfig } from "@esign/storage";
import { buildApi, DEV_TENANT, loadApiConfig } from "esign-api";
import { loadNotifierConfigFromEnv, startNotifier } from "esign-notifier";
import { DEFAULT_CLIENTS, startSimulator } from "esign-sim";
import { createSigningWorker, loadWorkerConfig, PdfPasswordsSchema } from "esign-worker";
import { z } from "zod";
import { resolveRedis } from "./redis";

const AllInOneConfigSchema = z.object({
  port: PortSchema.default(8080),
  simulatorPort: PortSchema.default(8090),
  /** Local storage folder, the simulator's PKI and a private Redis's data, relative to where pnpm ran. */
  dataDir: z.string().min(1).default(".data"),
  /**
   * BullMQ prefix; default one derived from the data folder, so that agents with different folders
   * can share a Redis without taking each other's jobs.
   */
  queuePrefix: z.string().min(1).optional(),
  /** Development API key (tenant `dev`, admin); default a fresh random one, printed at start. */
  devApiKey: z.string().min(16, "must be at least 16 characters").optional(),
  /** Unset: a Redis on 127.0.0.1:6379, else a private redis-server. */
  redisUrl: z.url({ protocol: /^rediss?$/, message: "must be a redis:// or rediss:// URL" }).optional(),
  /** The dev tenant's webhook secret unless WEBHOOK_SECRETS(_FILE) configures the notifier; default random. */
  webhookSecret: z.string().startsWith("whsec_").optional(),
  /** Passwords of encrypted PDFs for the simulator profile, by name: `{"invoices": {"env": "VAR"}}`. */
  pdfPasswords: PdfPasswordsSchema,
  /** Quieter than a standalone service: the banner is what a first run needs to see. */
  logLevel: LogLevelSchema.default("warn"),
});

const loadAllInOneConfig = configLoader(
  AllInOneConfigSchema,
  {
    port: integer("PORT"),
    simulatorPort: integer("ESIGN_SIM_PORT"),
    dataDir: text("ESIGN_DATA_DIR"),
    queuePrefix: text("ESIGN_QUEUE_PREFIX"),
    devApiKey: text("ESIGN_DEV_API_KEY"),
    redisUrl: text("REDIS_URL"),
    webhookSecret: text("ESIGN_WEBHOOK_SECRET"),
    pdfPasswords: json("ESIGN_PDF_PASSWORDS"),
    logLevel: text("LOG_LEVEL"),
  },
  "all-in-one environment",
);

/**
 * The e-contract secret (OTP hashes, the PIN/OTP hand-over to the worker), made once and kept in
 * the data folder: a restarted agent must still read what it wrote before.
 */
async function contractSecretIn(dataDir: string): Promise<string> {
  const path = join(dataDir, "contract-secret");
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    const secret = randomBytes(32).toString("base64url");
    await writeFile(path, secret, { mode: 0o600, flag: "wx" }).catch(() => undefined);
    return (await readFile(path, "utf8")).trim();
  }
}

await runService("esign-agent", async () => {
  // Everything this process and its children (a private redis-server) create in the data folder
  // (documents, the simulator's keys, Redis's files, the client secret) is the user's alone.
  process.umask(0o077);
  const config = loadAllInOneConfig();
  const env = process.env;
  // `pnpm start` runs in the repository root; a relative ESIGN_DATA_DIR means where the user typed it.
  const dataDir = resolve(env.INIT_CWD ?? process.cwd(), config.dataDir);
  const devApiKey = config.devApiKey ?? `dev_${randomBytes(18).toString("base64url")}`;
  const webhookSecret = config.webhookSecret ?? `whsec_${randomBytes(24).toString("base64")}`;
  const logLevel = config.logLevel;
  const queuePrefix = config.queuePrefix ?? dataDirQueuePrefix(dataDir);
  const redis = await resolveRedis(config.redisUrl, dataDir);
  // A private redis-server must not outlive us, whatever fails from here on.
  process.once("exit", () => redis.stop?.());

  const simulatorDir = join(dataDir, "esign-sim");
  // Fresh each start and printed below: the simulator's admin routes (faults, revocations, OTPs)
  // are for whoever started it.
  const simulatorAdminToken = `simadmin_${randomBytes(18).toString("base64url")}`;
  const simulator = await startSimulator({
    port: config.simulatorPort,
    dataDir: simulatorDir,
    adminToken: simulatorAdminToken,
  });
  const trustRoot = join(simulatorDir, "root.pem");
  await writeFile(trustRoot, simulator.rootPem);
  // The simulator's demo client secret reaches the worker the way production secrets do: by reference.
  const demoClient = DEFAULT_CLIENTS[0]!;
  const clientSecretFile = join(simulatorDir, "client-secret");
  await writeFile(clientSecretFile, demoClient.secret, { mode: 0o600 });
  const stores = defaultStoresConfig(dataDir);
  // E-contracts: the same secret and signer links for the API and the worker.
  const contracts = {
    contractSecret: env.ESIGN_CONTRACT_SECRET ?? (await contractSecretIn(dataDir)),
    publicUrl: env.ESIGN_PUBLIC_URL ?? `http://127.0.0.1:${config.port}`,
  };

  const worker = await createSigningWorker(
    loadWorkerConfig(env, {
      defaults: { logLevel },
      overrides: {
        redisUrl: redis.url,
        prefix: queuePrefix,
        stores,
        signers: {
          default: {
            type: "csc",
            url: `${simulator.url}/csc/v2`,
            clientId: demoClient.id,
            clientSecret: { file: clientSecretFile },
            credentialId: "seal-rsa",
            pdfPasswords: config.pdfPasswords,
            // Time-stamps for B-T and up and B-LTA's document time-stamp (e-contract seals).
            documentTimestampUrls: [`${simulator.url}/tsa`],
          },
        },
        ...contracts,
        // This process serves the API's /metrics; a second server would clash on METRICS_PORT.
        metricsPort: undefined,
      },
    }),
  );
  // Every notifier setting (WEBHOOK_ALLOW_CIDRS, WEBHOOK_RETRY_BASE_DELAY_MS, ...) works here too.
  const notifierConfig = loadNotifierConfigFromEnv(env, {
    defaults: { logLevel, tenants: { [DEV_TENANT]: { secrets: [webhookSecret] } } },
    overrides: { redisUrl: redis.url, queuePrefix },
  });
  const notifier = startNotifier(notifierConfig);
  const apiConfig = loadApiConfig(env, {
    defaults: { logLevel },
    overrides: {
      port: config.port,
      redisUrl: redis.url,
      queuePrefix,
      stores,
      devApiKey,
      trustRoots: [trustRoot],
      readyUrls: [`${simulator.url}/healthz`],
      ...contracts,
    },
  });
  const api = await buildApi({ config: apiConfig });
  await api.listen({ port: apiConfig.port, host: apiConfig.host });
  const address = reachableUrl(apiConfig.host, (api.server.address() as AddressInfo).port);
  const secretsConfigured = Boolean(env.WEBHOOK_SECRETS || env.WEBHOOK_SECRETS_FILE);

  process.stdout.write(
    [
      "esign-agent is running (all-in-one: API, worker, notifier, E-sign API simulator)",
      `  API:            ${address}   (OpenAPI: ${address}/openapi.json, docs: ${address}/docs)`,
      `  dev API key:    ${devApiKey}`,
      `  simulator:      ${simulator.url}   (trust anchor: ${simulator.url}/pki/root.pem)`,
      `  simulator admin token: ${simulatorAdminToken}`,
      `  storage:        ${join(dataDir, "objects")}`,
      `  redis:          ${redis.url}   (queue prefix: ${queuePrefix}${config.queuePrefix ? "" : ", from the data folder"})`,
      `  webhook secret: ${secretsConfigured ? "as configured in WEBHOOK_SECRETS" : webhookSecret}`,
      `  e-contract mail: ${env.SMTP_URL ? "SMTP (SMTP_URL)" : `outbox at ${address}/dev/mail (dev API key)`}`,
      "Sign a PDF:",
      `  curl --data-binary @in.pdf -H 'content-type: application/pdf' -H 'authorization: Bearer ${devApiKey}' ${address}/v1/sign > out.pdf`,
      "",
    ].join("\n"),
  );

  return {
    async close() {
      await api.close();
      await worker.close();
      await notifier.close();
      await simulator.close();
      // process.exit follows, and with it the "exit" handler that stops a private redis-server.
    },
  };
});
