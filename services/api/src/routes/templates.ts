import { checkSealText, readSealImage } from "@esign/appearance";
import { EsignError, isEsignError } from "@esign/errors";
import {
  MAX_TEMPLATE_IMAGE_BYTES,
  NameSchema,
  SealStyleSchema,
  SealTemplateStore,
  type StoredSealTemplate,
} from "@esign/jobs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { callerOf } from "../auth";
import { ErrorSchema } from "../schemas";
import type { RouteDeps } from "./deps";

const TemplateParamsSchema = z.strictObject({ name: NameSchema });

/** A template as answered: its style and a description of its image (never the image itself). */
const TemplateViewSchema = z.object({
  name: z.string(),
  style: SealStyleSchema,
  image: z.object({ type: z.enum(["png", "jpeg"]), bytes: z.number() }).nullable(),
  version: z.string(),
  updatedAt: z.string(),
});

function view(name: string, stored: StoredSealTemplate): z.infer<typeof TemplateViewSchema> {
  const image = stored.image === undefined ? undefined : Buffer.from(stored.image, "base64");
  return {
    name,
    style: stored.style,
    image: image ? { type: image[0] === 0x89 ? "png" : "jpeg", bytes: image.length } : null,
    version: stored.version,
    updatedAt: stored.updatedAt,
  };
}

/** Reads the multipart body of a PUT: the `template` JSON field and the optional `image` file. */
async function templateUpload(
  request: FastifyRequest,
): Promise<{ style: unknown; image: Buffer | undefined }> {
  if (!request.isMultipart()) {
    throw new EsignError("E_UNSUPPORTED_MEDIA", "send the template as multipart/form-data");
  }
  let style: unknown;
  let image: Buffer | undefined;
  try {
    for await (const part of request.parts({
      limits: { fileSize: MAX_TEMPLATE_IMAGE_BYTES + 1, fieldSize: 16_384 },
    })) {
      if (part.type === "field" && part.fieldname === "template") {
        style = JSON.parse(String(part.value));
      } else if (part.type === "file") {
        if (part.fieldname !== "image")
          throw new EsignError("E_INVALID_JOB", `unexpected file field ${part.fieldname}`);
        image = await part.toBuffer();
        if (part.file.truncated || image.length > MAX_TEMPLATE_IMAGE_BYTES) {
          throw new EsignError(
            "E_TOO_LARGE",
            `the seal image is larger than ${MAX_TEMPLATE_IMAGE_BYTES} bytes`,
          );
        }
      }
    }
  } catch (error) {
    if (isEsignError(error)) throw error;
    if (error instanceof SyntaxError)
      throw new EsignError("E_INVALID_JOB", `template is not JSON: ${error.message}`);
    throw new EsignError("E_UPLOAD_ABORTED", "the multipart body is malformed or ended early", {
      cause: error,
    });
  }
  return { style: style ?? {}, image };
}

/**
 * Seal templates of the caller's tenant: jobs of the tenant name them in `appearance.template`
 * (before the signer profile's seals). Other tenants' templates do not exist for a caller.
 */
export async function templateRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const store = new SealTemplateStore(deps.redis, deps.config.queuePrefix);

  api.put(
    "/v1/templates/:name",
    {
      schema: {
        summary: "Create or replace a seal template of the caller's tenant",
        description: `multipart/form-data: field \`template\`, JSON {text, fontSize, size, border, background}, and an optional file \`image\` (PNG or JPEG, at most ${MAX_TEMPLATE_IMAGE_BYTES} bytes), decoded here, and the text checked against the bundled font: what the signer could not draw is refused (422 E_APPEARANCE).`,
        tags: ["templates"],
        params: TemplateParamsSchema,
        consumes: ["multipart/form-data"],
        response: { 200: TemplateViewSchema, "4xx": ErrorSchema, "5xx": ErrorSchema },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const upload = await templateUpload(request);
      const style = SealStyleSchema.safeParse(upload.style);
      if (!style.success) {
        throw new EsignError(
          "E_APPEARANCE",
          `invalid template: ${style.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        );
      }
      // What would fail every job that uses the template fails here instead.
      if (upload.image) readSealImage(upload.image);
      await checkSealText(style.data.text);
      const stored = await store.put(caller.tenantId, request.params.name, style.data, upload.image);
      return view(request.params.name, stored);
    },
  );

  api.get(
    "/v1/templates",
    {
      schema: {
        summary: "The caller's tenant's seal templates",
        tags: ["templates"],
        response: { 200: z.object({ templates: z.array(TemplateViewSchema) }), "4xx": ErrorSchema },
      },
    },
    async (request) => {
      const templates = await store.list(callerOf(request).tenantId);
      return { templates: [...templates].map(([name, stored]) => view(name, stored)) };
    },
  );

  api.get(
    "/v1/templates/:name",
    {
      schema: {
        summary: "One seal template of the caller's tenant",
        tags: ["templates"],
        params: TemplateParamsSchema,
        response: { 200: TemplateViewSchema, "4xx": ErrorSchema },
      },
    },
    async (request) => {
      const stored = await store.get(callerOf(request).tenantId, request.params.name);
      if (!stored) throw new EsignError("E_NOT_FOUND", `no template ${request.params.name}`);
      return view(request.params.name, stored);
    },
  );

  api.delete(
    "/v1/templates/:name",
    {
      schema: {
        summary: "Delete a seal template of the caller's tenant",
        description: "Jobs that name it afterwards fall back to the signer profile's seal of that name.",
        tags: ["templates"],
        params: TemplateParamsSchema,
        response: { 204: z.null(), "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const deleted = await store.delete(callerOf(request).tenantId, request.params.name);
      if (!deleted) throw new EsignError("E_NOT_FOUND", `no template ${request.params.name}`);
      return reply.status(204).send(null);
    },
  );
}
