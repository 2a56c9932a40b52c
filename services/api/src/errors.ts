import { ERROR_CODES, EsignError, isEsignError } from "@esign/errors";
import { isRedisUnreachable } from "@esign/jobs";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export interface ErrorBody {
  error: { code: string; message: string; permanent: boolean; issues?: unknown };
}

/**
 * Answers with an EsignError. Hooks call it directly rather than throwing, so that plugins with an
 * error handler of their own (Bull Board) cannot turn a 401 into a 500.
 */
export function sendEsignError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: EsignError,
): FastifyReply {
  if (error.status >= 500) request.log.error({ err: error }, "request failed");
  else if (error.code === "E_UPLOAD_ABORTED") request.log.info({ reason: error.message }, "upload aborted");
  if (error.retryAfter !== undefined) reply.header("retry-after", String(error.retryAfter));
  // The rest of a refused body (no key, too large, wrong type) is not worth reading, and reading
  // it would let a slow client hold the connection: close it after answering.
  if (!request.raw.complete) reply.header("connection", "close");
  return reply.status(error.status).send({
    error: { code: error.code, message: error.message, permanent: error.permanent },
  } satisfies ErrorBody);
}

/** Every error leaves as `{ error: { code, message, permanent } }` with the code's HTTP status. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | EsignError, request, reply) => {
    if (isEsignError(error)) return sendEsignError(request, reply, error);
    // Redis calls outside the job client (the rate limiter, seal templates): the same 503.
    if (isRedisUnreachable(error)) {
      const unavailable = new EsignError("E_UNAVAILABLE", `Redis unavailable: ${error.message}`, {
        cause: error,
      });
      return sendEsignError(request, reply, unavailable);
    }
    // fastify's own errors (validation, body limits, rate limit) carry a statusCode.
    const status = error.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, "request failed");
    const code =
      status === 429
        ? "E_RATE_LIMITED"
        : status === 413
          ? "E_TOO_LARGE"
          : status < 500
            ? "E_INVALID_REQUEST"
            : "E_INTERNAL";
    return reply.status(status).send({
      error: {
        code,
        message: status >= 500 ? "internal error" : error.message,
        permanent: status < 500 && status !== 429,
        issues: error.validation,
      },
    } satisfies ErrorBody);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: { code: "E_NOT_FOUND", message: `no route ${request.method} ${request.url}`, permanent: true },
    } satisfies ErrorBody),
  );
}

/** HTTP status for a failed job's error code (what `POST /v1/sign` answers when signing failed). */
export function statusOfCode(code: string): number {
  return code in ERROR_CODES ? ERROR_CODES[code as keyof typeof ERROR_CODES].status : 500;
}
