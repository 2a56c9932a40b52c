import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import {
  etsiValidationReportXml,
  loadTrustStore,
  verificationReportJson,
  verifyPdfSignatures,
} from "@esign/pades";
import { FileSource } from "@esign/pdf";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ErrorSchema } from "../schemas";
import { checkedPdfBody } from "../upload";
import type { RouteDeps } from "./deps";
import { requestPdf, requirePdfUpload } from "./sign";

/**
 * `POST /v1/verify`: the validation report of an uploaded PDF (the same bytes as
 * `esign verify --json` prints for the file), against the trust roots the operator configured.
 */
export async function verifyRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  // The same reader as `esign verify --trust`: PEM bundles (AATL exports), DER, folders, TS 119 612 lists.
  const trustRoots = await loadTrustStore(deps.config.trustRoots);

  app.withTypeProvider<ZodTypeProvider>().post(
    "/v1/verify",
    {
      schema: {
        summary: "Validate every signature of a PDF",
        description:
          "Body: the PDF (application/pdf, or the file part of multipart/form-data). Answers, per signature: field, signer, claimed and time-stamp time, PAdES level, digest/CMS validity, chain status, revocation data, coverage, the later changes judged under DocMDP/FieldMDP, the ETSI indication and LTV status. `?report=etsi` answers the ETSI TS 119 102-2 XML validation report instead.",
        tags: ["verification"],
        consumes: ["application/pdf", "multipart/form-data"],
        querystring: z.object({ report: z.enum(["etsi"]).optional() }),
        response: {
          200: z.object({ ok: z.boolean(), chainChecked: z.boolean(), valid: z.boolean() }).passthrough(),
          "4xx": ErrorSchema,
        },
      },
      onRequest: requirePdfUpload,
    },
    async (request, reply) => {
      // Verification reads the file at random; it goes to a private temporary file, not to storage.
      const path = join(tmpdir(), `esign-verify-${randomUUID()}.pdf`);
      try {
        const pdf = await requestPdf(request);
        await pipeline(
          checkedPdfBody(pdf.body, { maxBytes: deps.config.maxUploadBytes }),
          createWriteStream(path, { flags: "wx", mode: 0o600 }),
        );
        const source = await FileSource.open(path);
        try {
          const report = await verifyPdfSignatures(source, { trustRoots });
          if (request.query.report === "etsi") {
            // ETSI TS 119 102-2 XML, byte for byte what `esign verify --report etsi` prints.
            return (reply as FastifyReply)
              .type("application/xml; charset=utf-8")
              .send(etsiValidationReportXml(report));
          }
          // Already JSON, byte for byte what `esign verify --json` prints: sent as it is
          // (a string body skips fastify's serializer; the schema above documents its shape).
          return (reply as FastifyReply)
            .type("application/json; charset=utf-8")
            .send(verificationReportJson(report, trustRoots.length > 0));
        } finally {
          await source.close();
        }
      } finally {
        await rm(path, { force: true });
      }
    },
  );
}
