import type { FastifyInstance, FastifyReply } from "fastify";
import type { SimulatorContext } from "../context";
import { caChainPem, toPem } from "../pki";
import { ANONYMOUS_CLIENT } from "../usage";
import { invalidRequest } from "./service-error";

const DER_CERTIFICATE = "application/pkix-cert";
const PEM = "application/x-pem-file";

function binary(reply: FastifyReply, contentType: string, body: Buffer) {
  return reply.type(contentType).send(body);
}

function requestBytes(body: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(body) || body.length === 0) throw invalidRequest(`The body must be a DER ${what}`);
  return body;
}

/** The relying-party side: trust anchor and CA certificates, CRLs, the OCSP responder and the TSA. */
export function registerPkiRoutes(app: FastifyInstance, context: SimulatorContext): void {
  const { pki } = context;
  const pkiGroup = { config: { groups: ["pki" as const] } };
  app.get("/pki/root.pem", pkiGroup, (_request, reply) => reply.type(PEM).send(toPem(pki.root)));
  app.get("/pki/chain.pem", pkiGroup, (_request, reply) => reply.type(PEM).send(caChainPem(pki)));
  app.get("/pki/root.cer", pkiGroup, (_request, reply) => binary(reply, DER_CERTIFICATE, pki.root.der));
  app.get("/pki/issuing.cer", pkiGroup, (_request, reply) => binary(reply, DER_CERTIFICATE, pki.issuing.der));

  const crlGroup = { config: { groups: ["crl" as const] } };
  app.get("/crl/root.crl", crlGroup, async (_request, reply) =>
    binary(reply, "application/pkix-crl", await context.crls.root.current()),
  );
  app.get("/crl/issuing.crl", crlGroup, async (_request, reply) =>
    binary(reply, "application/pkix-crl", await context.crls.issuing.current()),
  );

  const ocspGroup = { config: { groups: ["ocsp" as const] } };
  const answerOcsp = (reply: FastifyReply, request: Buffer) => {
    context.usage.recordCall(ANONYMOUS_CLIENT, "ocspCalls");
    return binary(reply, "application/ocsp-response", context.ocsp.respond(request));
  };
  app.post("/ocsp", ocspGroup, (request, reply) =>
    answerOcsp(reply, requestBytes(request.body, "OCSPRequest")),
  );
  // RFC 6960 A.1: GET /{url-encoding of base64 of DER OCSPRequest}; the base64 may contain '/'.
  app.get("/ocsp/*", ocspGroup, (request, reply) => {
    const encoded = (request.params as { "*": string })["*"];
    return answerOcsp(reply, requestBytes(Buffer.from(decodeURIComponent(encoded), "base64"), "OCSPRequest"));
  });

  app.post("/tsa", { config: { groups: ["tsa"] } }, (request, reply) => {
    context.usage.recordCall(ANONYMOUS_CLIENT, "tsaCalls");
    const query = requestBytes(request.body, "TimeStampReq");
    return binary(reply, "application/timestamp-reply", context.tsa.respond(query));
  });
}
