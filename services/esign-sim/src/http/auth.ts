import type { FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from "fastify";
import type { ClientDefinition } from "../clients";
import type { SimulatorContext } from "../context";
import { constantTimeEqual } from "../secrets";
import { ServiceError } from "./service-error";

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "");
  return match?.[1];
}

function invalidToken(description: string): ServiceError {
  return new ServiceError(401, "invalid_token", description, {
    "www-authenticate": `Bearer error="invalid_token", error_description="${description}"`,
  });
}

function admitted(context: SimulatorContext, request: FastifyRequest, client: ClientDefinition): void {
  request.sim.client = client;
  if (request.sim.logEntry) request.sim.logEntry.client = client.id;
  context.clients.admitCall(client);
}

/** CSC service authorisation: an access token from oauth2/token, then the client's rate limit. */
export function requireAccessToken(context: SimulatorContext): preHandlerAsyncHookHandler {
  return async (request) => {
    const token = bearerToken(request);
    if (!token) throw invalidToken("Missing access token");
    const clientId = context.accessTokens.clientOf(token);
    const client = clientId === undefined ? undefined : context.clients.byId(clientId);
    if (!client) throw invalidToken("The access token is invalid or expired");
    admitted(context, request, client);
  };
}

/** CMS mode authorisation: an API key as `Authorization: Bearer <key>` or `x-api-key`. */
export function requireApiKey(context: SimulatorContext): preHandlerAsyncHookHandler {
  return async (request) => {
    const header = request.headers["x-api-key"];
    const apiKey = bearerToken(request) ?? (typeof header === "string" ? header : undefined);
    if (!apiKey) throw invalidToken("Missing API key");
    const client = context.clients.byApiKey(apiKey);
    if (!client) throw invalidToken("Unknown API key");
    admitted(context, request, client);
  };
}

/**
 * The host names the admin API answers to: loopback, the bind address and the base URL's host.
 * Anything else in `Host` is a DNS-rebinding page talking to a simulator on the victim's machine.
 */
export function adminHostNames(bindHost: string, baseUrl: string): ReadonlySet<string> {
  const names = ["127.0.0.1", "localhost", "[::1]", new URL(baseUrl).hostname];
  const bind = hostNameOf(bindHost.includes(":") ? `[${bindHost}]` : bindHost);
  if (bind !== undefined) names.push(bind);
  return new Set(names);
}

/** The host name (lower case, IPv6 in brackets) of a `Host` or `host:port`; undefined if malformed. */
function hostNameOf(hostAndPort: string): string | undefined {
  try {
    return new URL(`http://${hostAndPort}`).hostname;
  } catch {
    return undefined;
  }
}

function forbidden(description: string): ServiceError {
  return new ServiceError(403, "access_denied", description);
}

/**
 * Admin routes change what the simulator answers (faults, revocations) and show OTPs, so a web
 * page must not reach them: no foreign `Host` (DNS rebinding) or `Origin` (cross-site requests),
 * and bodies only as JSON, which a cross-site form cannot send. Then the admin token, if one is
 * configured, as a bearer token.
 */
export function guardAdminRequest(context: SimulatorContext): onRequestAsyncHookHandler {
  const { adminHosts, adminToken } = context.settings;
  return async (request) => {
    const host = hostNameOf(request.headers.host ?? "");
    if (host === undefined || !adminHosts.has(host)) throw forbidden("Admin routes answer to this host only");
    const origin = request.headers.origin;
    if (origin !== undefined && !adminHosts.has(originHostName(origin) ?? "")) {
      throw forbidden("Admin routes refuse cross-site requests");
    }
    const contentType = request.headers["content-type"];
    const hasBody =
      contentType !== undefined ||
      request.headers["transfer-encoding"] !== undefined ||
      Number(request.headers["content-length"] ?? 0) > 0;
    if (hasBody && contentType?.split(";")[0]?.trim().toLowerCase() !== "application/json") {
      throw new ServiceError(415, "invalid_request", "Admin request bodies must be application/json");
    }
    if (adminToken === undefined) return;
    if (!constantTimeEqual(bearerToken(request) ?? "", adminToken))
      throw invalidToken("Admin token required");
  };
}

function originHostName(origin: string): string | undefined {
  try {
    return new URL(origin).hostname;
  } catch {
    return undefined;
  }
}
