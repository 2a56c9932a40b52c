import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EsignError } from "@esign/errors";
import { createLogger, type LogLevel, reachableUrl } from "@esign/runtime";
import type { Logger } from "pino";
import { buildApp } from "./app";
import { type ClientDefinition, type ClientLimits, DEFAULT_CLIENTS } from "./clients";
import { SimulatorContext } from "./context";
import { type CredentialDefinition, DEFAULT_CREDENTIALS } from "./credentials";
import type { FaultConfig, FaultConfigInput } from "./faults";
import { revokeCredential } from "./http/admin-routes";
import { adminHostNames } from "./http/auth";
import { OID } from "./oids";
import { caChainPem, generatePki, loadOrCreatePki, type Pki, toPem } from "./pki";
import type { RequestLogEntry } from "./request-log";
import { type Revocation, type RevocationReason, RevocationRegistry } from "./revocation";
import type { UsageReport } from "./usage";

export type { ClientDefinition, ClientLimits } from "./clients";
export { DEFAULT_CLIENTS } from "./clients";
export type { CredentialDefinition } from "./credentials";
export { DEFAULT_CREDENTIALS } from "./credentials";
export type { FaultConfig, FaultConfigInput, RouteGroup } from "./faults";
export { faultConfigSchema, ROUTE_GROUPS } from "./faults";
export type { Pki, PkiEntity } from "./pki";
export { caChainPem, generatePki, loadOrCreatePki } from "./pki";
export type { RequestLogEntry } from "./request-log";
export type { Revocation, RevocationReason } from "./revocation";
export type { UsageCounters, UsageReport } from "./usage";

export interface SimulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** URL written into certificates (AIA, CRL distribution points); default http://host:port. */
  baseUrl?: string;
  /** Folder for the PKI and revocations, created on first start and reused; default: in memory. */
  dataDir?: string;
  /** A PKI made earlier with generatePki (tests share one per file); its URLs are kept as they are. */
  pki?: Pki;
  credentials?: readonly CredentialDefinition[];
  clients?: readonly ClientDefinition[];
  /** Limits for clients that set none themselves. */
  limits?: ClientLimits;
  faults?: FaultConfigInput;
  /** When set, admin routes need `Authorization: Bearer <adminToken>`. */
  adminToken?: string;
  tsaPolicyOid?: string;
  tsaAccuracySeconds?: number;
  accessTokenLifetimeSeconds?: number;
  sadLifetimeSeconds?: number;
  otpLifetimeSeconds?: number;
  /** How many recent requests GET /admin/requests keeps; default 1000. */
  requestLogSize?: number;
  /** How long an Idempotency-Key of a sign call is remembered; default 86400 (24 h). */
  idempotencyRetentionSeconds?: number;
  /** Logger to use; default a pino logger at `logLevel`. */
  logger?: Logger;
  /** Default "silent" (embedded use); the standalone entry sets LOG_LEVEL, default "info". */
  logLevel?: LogLevel;
}

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  url: string;
  port: number;
  pki: Pki;
  /** The trust anchor (root CA) as PEM. */
  rootPem: string;
  /** All CA certificates (issuing, root) as PEM. */
  chainPem: string;
  usage(): UsageReport;
  resetUsage(): void;
  setFaults(faults: FaultConfigInput): FaultConfig;
  clearFaults(): void;
  revokeCredential(credentialId: string, reason?: RevocationReason): Promise<Revocation>;
  /** The OTP most recently sent for a credential, if still valid. */
  currentOtp(credentialId: string): string | undefined;
  requests(): RequestLogEntry[];
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Answers while the PKI is still being generated, so early callers get a retryable 503, not silence. */
function starting(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
  response.end(
    JSON.stringify({ error: "temporarily_unavailable", error_description: "Simulator is starting" }),
  );
}

async function resolvePki(options: SimulatorOptions, baseUrl: string, log: Logger): Promise<Pki> {
  const credentials = options.credentials ?? DEFAULT_CREDENTIALS;
  if (options.pki) {
    const missing = credentials.filter((credential) => !options.pki!.credentials.has(credential.id));
    if (missing.length > 0) {
      const ids = missing.map((credential) => credential.id).join(", ");
      throw new EsignError("E_CONFIG", `The given PKI has no certificate for credential(s) ${ids}`);
    }
    return options.pki;
  }
  if (!options.dataDir) return generatePki({ baseUrl, credentials });
  const { pki, outcome } = await loadOrCreatePki({ dir: options.dataDir, baseUrl, credentials });
  log.info({ dataDir: options.dataDir, outcome, baseUrl }, "simulator PKI ready");
  return pki;
}

/** Starts the simulator on 127.0.0.1 (by default on a free port) and resolves once it serves. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? "127.0.0.1";
  const log = options.logger ?? createLogger({ name: "esign-sim", level: options.logLevel ?? "silent" });
  const server = createServer();
  server.on("request", starting);
  const address = await listen(server, options.port ?? 0, host);
  const baseUrl = (options.baseUrl ?? reachableUrl(host, address.port)).replace(/\/+$/, "");
  try {
    const pki = await resolvePki(options, baseUrl, log);
    const context = new SimulatorContext(
      pki,
      await RevocationRegistry.open(options.dataDir),
      {
        credentials: options.credentials ?? DEFAULT_CREDENTIALS,
        clients: options.clients ?? DEFAULT_CLIENTS,
        limits: options.limits ?? {},
        faults: options.faults,
        adminToken: options.adminToken,
        adminHosts: adminHostNames(host, baseUrl),
        tsaPolicyOid: options.tsaPolicyOid ?? OID.simulatorTsaPolicy,
        tsaAccuracySeconds: options.tsaAccuracySeconds ?? 1,
        accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds ?? 3600,
        sadLifetimeSeconds: options.sadLifetimeSeconds ?? 300,
        otpLifetimeSeconds: options.otpLifetimeSeconds ?? 300,
        requestLogSize: options.requestLogSize ?? 1000,
        idempotencyRetentionSeconds: options.idempotencyRetentionSeconds ?? 86_400,
      },
      log,
    );
    const app = buildApp(context, server);
    await app.ready();
    server.off("request", starting);
    return {
      url: baseUrl,
      port: address.port,
      pki,
      rootPem: toPem(pki.root),
      chainPem: caChainPem(pki),
      usage: () => context.usage.report(),
      resetUsage: () => context.usage.reset(),
      setFaults: (faults) => context.faults.set(faults),
      clearFaults: () => context.faults.clear(),
      revokeCredential: (credentialId, reason) => revokeCredential(context, credentialId, reason),
      currentOtp: (credentialId) => context.otps.peek(credentialId)?.otp,
      requests: () => context.requestLog.list(),
      close: async () => {
        context.faults.releaseHangingCalls();
        await app.close();
        // Fastify leaves a server it did not listen on open; keep-alive and hanging calls must not
        // keep close() waiting.
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  } catch (error) {
    server.close();
    throw error;
  }
}
