import { EsignError } from "@esign/errors";
import { httpCall, retryAfterSeconds } from "@esign/pades";
import type { z } from "zod";

export const DEFAULT_TIMEOUT_MS = 30_000;

export interface JsonCall {
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Names the service in messages. */
  service: string;
  /**
   * Sent as `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a service that honours
   * it answers a repeated call with its first answer and does not bill it again.
   */
  idempotencyKey?: string;
}

/** A JSON answer and whether the service replayed it for an idempotency key (`Idempotent-Replayed: true`). */
export interface JsonAnswer<T> {
  body: T;
  replayed: boolean;
}

/** A CSC / OAuth 2.0 style error body: `{ error, error_description }`. */
function describeError(body: Uint8Array): { error?: string; text: string } {
  try {
    const parsed = JSON.parse(Buffer.from(body).toString("utf8")) as Record<string, unknown>;
    const error = typeof parsed.error === "string" ? parsed.error : undefined;
    const description =
      typeof parsed.error_description === "string"
        ? parsed.error_description
        : typeof parsed.message === "string"
          ? parsed.message
          : "";
    return { error, text: [error, description].filter(Boolean).join(": ") };
  } catch {
    return { text: Buffer.from(body.subarray(0, 200)).toString("utf8") };
  }
}

/**
 * What a failed answer means for the caller: 429 wait and retry, 5xx and 409 retry, 401/403 fix the
 * credentials, a revoked credential is final, any other 4xx means the request itself was refused.
 */
export function errorForStatus(
  status: number,
  headers: Headers,
  body: Uint8Array,
  service: string,
): EsignError {
  const { error, text } = describeError(body);
  const message = `${service} answered HTTP ${status}${text ? ` (${text})` : ""}`;
  const retryAfter = retryAfterSeconds(headers);
  if (status === 429)
    return new EsignError("E_SIGNER_RATE_LIMITED", message, { retryAfter: retryAfter ?? 1 });
  // 409: a call with the same Idempotency-Key is still running there; its answer comes on a retry.
  if (status >= 500 || status === 409) return new EsignError("E_SIGNER_UNAVAILABLE", message, { retryAfter });
  if (status === 401 || status === 403 || error === "invalid_pin" || error === "invalid_otp") {
    return new EsignError("E_SIGNER_AUTH", message);
  }
  if (/revoked|disabled/i.test(text)) return new EsignError("E_SIGNER_REVOKED", message);
  return new EsignError("E_SIGNER_REJECTED", message);
}

/**
 * POSTs JSON and parses the answer with `schema`. No answer, or a 5xx, is E_SIGNER_UNAVAILABLE
 * (transient); a 2xx body that is not what the protocol promises is E_SIGNER_BAD_RESPONSE.
 */
export async function postJson<T extends z.ZodType>(call: JsonCall, schema: T): Promise<z.output<T>> {
  return (await postJsonAnswer(call, schema)).body;
}

/** postJson, telling whether the answer was replayed for the call's idempotency key. */
export async function postJsonAnswer<T extends z.ZodType>(
  call: JsonCall,
  schema: T,
): Promise<JsonAnswer<z.output<T>>> {
  const answer = await httpCall(call.url, {
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...call.headers,
      ...(call.idempotencyKey && { "idempotency-key": call.idempotencyKey }),
    },
    timeoutMs: call.timeoutMs,
    unavailableCode: "E_SIGNER_UNAVAILABLE",
    service: call.service,
  });
  if (answer.status < 200 || answer.status > 299) {
    throw errorForStatus(answer.status, answer.headers, answer.body, call.service);
  }
  const replayed = answer.headers.get("idempotent-replayed") === "true";
  if (answer.status === 204) return { body: schema.parse(undefined), replayed };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(answer.body).toString("utf8"));
  } catch (cause) {
    throw new EsignError("E_SIGNER_BAD_RESPONSE", `${call.service} sent a body that is not JSON`, { cause });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new EsignError(
      "E_SIGNER_BAD_RESPONSE",
      `${call.service} sent an unexpected answer: ${parsed.error.issues[0]?.path.join(".")} ${parsed.error.issues[0]?.message}`,
    );
  }
  return { body: parsed.data, replayed };
}

export function base64Bytes(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, "base64"));
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path}`;
}
