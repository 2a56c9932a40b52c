import type { FastifyRequest } from "fastify";
import { invalidParameter, invalidRequest, missingParameter } from "./service-error";

export type Body = Record<string, unknown>;

/** The JSON object body of a CSC-style call; anything else is an invalid request. */
export function jsonBody(request: FastifyRequest): Body {
  // A call without a body is read as `{}`: the parameter checks then name what is missing.
  const body = request.body ?? {};
  if (body === null || typeof body !== "object" || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw invalidRequest("The request body must be a JSON object");
  }
  return body as Body;
}

export function requiredString(body: Body, name: string): string {
  const value = body[name];
  if (typeof value !== "string" || value.length === 0) throw missingParameter("string", name);
  return value;
}

export function optionalString(body: Body, name: string): string | undefined {
  return body[name] === undefined ? undefined : requiredString(body, name);
}

export function optionalBoolean(body: Body, name: string, fallback: boolean): boolean {
  const value = body[name];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw missingParameter("boolean", name);
  return value;
}

export function requiredPositiveInteger(body: Body, name: string): number {
  const value = body[name];
  if (typeof value !== "number" || !Number.isInteger(value)) throw missingParameter("integer", name);
  if (value < 1) throw invalidParameter(name);
  return value;
}

export function stringArray(body: Body, name: string): string[] {
  const value = body[name];
  if (!Array.isArray(value) || value.length === 0 || value.some((item) => typeof item !== "string")) {
    throw missingParameter("array", name);
  }
  return value as string[];
}

/** Strict base64: Node's decoder skips junk silently, so the value must re-encode to itself. */
export function base64Bytes(value: string, parameter: string): Buffer {
  const bytes = Buffer.from(value, "base64");
  if (bytes.length === 0 || bytes.toString("base64").replace(/=+$/, "") !== value.replace(/=+$/, "")) {
    throw invalidRequest(`Invalid Base64 ${parameter} string parameter`);
  }
  return bytes;
}
