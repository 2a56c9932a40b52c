import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { QUEUE_PREFIX } from "./constants";

const ColorSchema = z.string().regex(/^#[0-9a-fA-F]{6}$/, "a colour is #rrggbb");
const SealLength = z.number().positive().max(14_400);

/**
 * The look of a seal, shared by a signer profile's seals (which add image and font files) and a
 * tenant's templates (whose image is uploaded, and whose font is the bundled one: a tenant must not
 * name files on the worker).
 */
export const SealStyleSchema = z.strictObject({
  /** `{name}`, `{date}`, `{reason}`, `{location}`, `{subject}`; "\n" breaks lines; "" for an image-only seal. */
  text: z.string().max(1000).optional(),
  fontSize: z.number().min(4).max(72).optional(),
  /** [width, height] in points when a job places the seal by anchor or by default. */
  size: z.tuple([SealLength, SealLength]).optional(),
  border: z.strictObject({ width: z.number().min(0).max(20), color: ColorSchema }).optional(),
  background: ColorSchema.optional(),
});
export type SealStyle = z.infer<typeof SealStyleSchema>;

/** Uploaded seal images are small: a stamp a few centimetres wide. */
export const MAX_TEMPLATE_IMAGE_BYTES = 1024 * 1024;

/** A tenant's seal template as stored: its style, the image base64, and a version of both. */
export const StoredSealTemplateSchema = z.strictObject({
  style: SealStyleSchema,
  /** PNG or JPEG, base64. */
  image: z.string().optional(),
  /** Content hash: workers keep a decoded template until its version changes. */
  version: z.string(),
  updatedAt: z.iso.datetime(),
});
export type StoredSealTemplate = z.infer<typeof StoredSealTemplateSchema>;

/**
 * Redis keys of a tenant's seal templates, under the deployment prefix (one Cluster slot with the
 * queues). Versions have a hash of their own so a worker checks one for every job without reading
 * the image.
 */
export function sealTemplateKeys(tenant: string, prefix: string = QUEUE_PREFIX) {
  const base = `${prefix}:templates:${tenant}`;
  return {
    /** Hash: template name → StoredSealTemplate JSON. */
    templates: base,
    /** Hash: template name → version. */
    versions: `${base}:versions`,
  };
}

/** Per-tenant seal templates: written by the API, read by every worker. */
export class SealTemplateStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string = QUEUE_PREFIX,
  ) {}

  async put(
    tenant: string,
    name: string,
    style: SealStyle,
    image: Uint8Array | undefined,
  ): Promise<StoredSealTemplate> {
    const encoded = image && Buffer.from(image).toString("base64");
    const version = createHash("sha256")
      .update(JSON.stringify(style))
      .update("\0")
      .update(encoded ?? "")
      .digest("hex")
      .slice(0, 32);
    const stored: StoredSealTemplate = {
      style,
      image: encoded,
      version,
      updatedAt: new Date().toISOString(),
    };
    const keys = sealTemplateKeys(tenant, this.prefix);
    await this.redis
      .multi()
      .hset(keys.templates, name, JSON.stringify(stored))
      .hset(keys.versions, name, version)
      .exec();
    return stored;
  }

  async get(tenant: string, name: string): Promise<StoredSealTemplate | undefined> {
    const raw = await this.redis.hget(sealTemplateKeys(tenant, this.prefix).templates, name);
    return raw === null ? undefined : StoredSealTemplateSchema.parse(JSON.parse(raw));
  }

  /** The current version of a template, or undefined when the tenant has none of that name. */
  async version(tenant: string, name: string): Promise<string | undefined> {
    return (await this.redis.hget(sealTemplateKeys(tenant, this.prefix).versions, name)) ?? undefined;
  }

  async list(tenant: string): Promise<Map<string, StoredSealTemplate>> {
    const all = await this.redis.hgetall(sealTemplateKeys(tenant, this.prefix).templates);
    return new Map(
      Object.entries(all).map(([name, raw]) => [name, StoredSealTemplateSchema.parse(JSON.parse(raw))]),
    );
  }

  /** True when there was a template of that name. */
  async delete(tenant: string, name: string): Promise<boolean> {
    const keys = sealTemplateKeys(tenant, this.prefix);
    const results = await this.redis.multi().hdel(keys.templates, name).hdel(keys.versions, name).exec();
    return results?.[0]?.[1] === 1;
  }
}
