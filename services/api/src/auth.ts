import { timingSafeEqual } from "node:crypto";
import { EsignError } from "@esign/errors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { type ApiKeyEntry, hashApiKey, type Tenant } from "./config";
import { sendEsignError } from "./errors";

export interface Caller {
  tenantId: string;
  tenant: Tenant;
  admin: boolean;
  keyName: string;
  /** A stable, non-secret id of the presented key (its hash), for per-key rate limits. */
  keyId: string;
}

declare module "fastify" {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a key (health, metrics, the OpenAPI document). */
    public?: boolean;
    /** Routes for operators only. */
    admin?: boolean;
    /** E-contract signer routes: authorised by the signer link's token, rate-limited per address. */
    signerLink?: boolean;
  }
}

export interface AuthOptions {
  apiKeys: ApiKeyEntry[];
  tenants: Record<string, Tenant>;
  /**
   * Counts one refused key against the client's address; the seconds to wait once too many were
   * refused, undefined while under the limit. Refused requests never reach the per-key limiter.
   */
  countRefusedKey: (request: FastifyRequest) => Promise<number | undefined>;
}

/** The auth scheme is case-insensitive (RFC 9110 §11.1): `bearer KEY` is as good as `Bearer KEY`. */
const BEARER = /^bearer\s+(.+)$/i;

function presentedKey(request: FastifyRequest): string | undefined {
  const bearer = BEARER.exec(request.headers.authorization ?? "");
  if (bearer) return bearer[1]!.trim();
  const apiKey = request.headers["x-api-key"];
  return typeof apiKey === "string" ? apiKey : undefined;
}

/**
 * API keys are stored as SHA-256 hashes and matched in constant time. Every route needs a key
 * unless its config says `public`; admin routes need an admin key.
 */
export const authPlugin = fp(async (app: FastifyInstance, options: AuthOptions) => {
  const keys = options.apiKeys.map((entry) => ({ entry, digest: Buffer.from(entry.sha256, "hex") }));

  app.addHook("onRequest", async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.public || config.signerLink) return;
    const refuse = (code: "E_UNAUTHORIZED" | "E_FORBIDDEN", message: string) =>
      sendEsignError(request, reply, new EsignError(code, message));
    const key = presentedKey(request);
    if (!key) return refuse("E_UNAUTHORIZED", "an API key is required (Authorization: Bearer KEY)");
    const digest = Buffer.from(hashApiKey(key), "hex");
    const match = keys.find((candidate) => timingSafeEqual(candidate.digest, digest));
    if (!match) {
      const retryAfter = await options.countRefusedKey(request);
      if (retryAfter !== undefined) {
        return sendEsignError(
          request,
          reply,
          new EsignError("E_RATE_LIMITED", "too many unknown API keys from this address", { retryAfter }),
        );
      }
      return refuse("E_UNAUTHORIZED", "unknown API key");
    }
    const { entry } = match;
    if (config.admin && !entry.admin) return refuse("E_FORBIDDEN", "this route needs an admin key");
    request.caller = {
      tenantId: entry.tenant,
      tenant: options.tenants[entry.tenant]!,
      admin: entry.admin,
      keyName: entry.name ?? entry.sha256.slice(0, 8),
      keyId: entry.sha256,
    };
  });
});

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new EsignError("E_UNAUTHORIZED", "an API key is required");
  return request.caller;
}
