import { Transform } from "node:stream";
import type { FastifyError, FastifyInstance } from "fastify";
import { ZodError } from "zod";
import type { SimulatorContext } from "../context";
import { NO_FAULT } from "../faults";
import { summariseFields } from "../request-log";
import { ServiceError } from "./service-error";
import "./request-state";

/** The binary bodies of the time-stamp and OCSP protocols. */
const BINARY_TYPES = ["application/timestamp-query", "application/ocsp-request", "application/octet-stream"];
const BODY_LIMIT = 1024 * 1024;

function parseForm(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}

/**
 * Cross-cutting request handling: body parsers, byte counting, the request log, fault injection
 * and the `{ error, error_description }` error shape.
 */
export function installPlumbing(app: FastifyInstance, context: SimulatorContext): void {
  app.addContentTypeParser(
    BINARY_TYPES,
    { parseAs: "buffer", bodyLimit: BODY_LIMIT },
    (_request, body, done) => done(null, body),
  );
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => done(null, parseForm(body as string)),
  );

  app.decorateRequest("sim", null as never);
  app.addHook("onRequest", async (request) => {
    request.sim = { client: null, fault: NO_FAULT, logEntry: null, bodyBytes: 0 };
  });

  // Counts the bytes actually received, chunked bodies included, rather than trusting Content-Length.
  app.addHook("preParsing", async (request, _reply, payload) => {
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        request.sim.bodyBytes += chunk.length;
        callback(null, chunk);
      },
    });
    payload.on("error", (error) => counter.destroy(error));
    return payload.pipe(counter);
  });

  app.addHook("preHandler", async (request, reply) => {
    const groups = request.routeOptions.config.groups;
    if (!groups) return;
    request.sim.logEntry = context.requestLog.add({
      time: new Date().toISOString(),
      method: request.method,
      path: request.url.split("?")[0]!,
      client: null,
      contentType: request.headers["content-type"] ?? null,
      bodyBytes: request.sim.bodyBytes,
      fields: summariseFields(request.body),
      status: null,
    });
    const connectionClosed = new Promise<void>((resolve) => reply.raw.once("close", () => resolve()));
    const verdict = await context.faults.beforeHandler(groups, connectionClosed);
    if (verdict === "hang") {
      // The client gave up or the simulator is closing: nothing is ever sent.
      reply.hijack();
      reply.raw.destroy();
      return reply;
    }
    request.sim.fault = verdict;
  });

  app.addHook("onSend", async (request, _reply, payload) => {
    if (!request.sim.fault.malformed || (typeof payload !== "string" && !Buffer.isBuffer(payload)))
      return payload;
    // Half an answer: invalid JSON, truncated DER.
    return payload.slice(0, Math.floor(payload.length / 2));
  });

  app.addHook("onResponse", async (request, reply) => {
    if (request.sim.logEntry) request.sim.logEntry.status = reply.statusCode;
  });

  app.setErrorHandler((error: FastifyError | ServiceError | ZodError, request, reply) => {
    if (error instanceof ServiceError) {
      return reply
        .code(error.statusCode)
        .headers(error.headers)
        .send({ error: error.error, error_description: error.description });
    }
    if (error instanceof ZodError) {
      const description = error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
      return reply.code(400).send({ error: "invalid_request", error_description: description.join("; ") });
    }
    const status = error.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, "request failed");
    return reply.code(status).send({
      error: status >= 500 ? "server_error" : "invalid_request",
      error_description: status >= 500 ? "Internal error" : error.message,
    });
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: "not_found", error_description: `No route ${request.method} ${request.url}` }),
  );
}
