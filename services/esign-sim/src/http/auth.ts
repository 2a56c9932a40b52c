import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
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

/** Admin routes are open unless an admin token is configured; then they need it as a bearer token. */
export function requireAdminToken(context: SimulatorContext): preHandlerAsyncHookHandler {
  return async (request) => {
    const expected = context.settings.adminToken;
    if (expected === undefined) return;
    const given = bearerToken(request) ?? "";
    if (!constantTimeEqual(given, expected)) throw invalidToken("Admin token required");
  };
}
