import { readFile } from "node:fs/promises";
import { checkSealText, readSealImage, type VisibleSignatureOptions } from "@esign/appearance";
import { EsignError, isEsignError } from "@esign/errors";
import type { SealTemplateStore, SignJob } from "@esign/jobs";
import type { SealTemplate } from "./config";

/** A profile's seal template with its image read (and checked) once, at start-up. */
export interface LoadedSeal extends Omit<SealTemplate, "image"> {
  image: Uint8Array | undefined;
}

/**
 * Reads each seal template's image and font and checks its text, so a missing or unreadable file stops the worker at
 * start (E_CONFIG naming the profile and seal) rather than failing every job that asks for it.
 */
export async function loadSeals(
  profile: string,
  seals: Record<string, SealTemplate> | undefined,
): Promise<Map<string, LoadedSeal>> {
  const loaded = new Map<string, LoadedSeal>();
  for (const [name, seal] of Object.entries(seals ?? {})) {
    try {
      const image = seal.image === undefined ? undefined : await readFile(seal.image);
      if (image) readSealImage(image);
      await checkSealText(seal.text, seal.font);
      loaded.set(name, { ...seal, image });
    } catch (cause) {
      const reason = isEsignError(cause) ? cause.message : (cause as Error).message;
      throw new EsignError("E_CONFIG", `signer profile ${profile}, seal ${name}: ${reason}`, { cause });
    }
  }
  return loaded;
}

/** Decoded tenant templates kept per worker; a template's images are at most a MiB each. */
const MAX_CACHED_TENANT_SEALS = 256;

/**
 * Tenants' seal templates (uploaded through the API, kept in Redis). Every job reads the template's
 * version, a few bytes; the template itself (and its decoded image, which readSealImage caches by
 * buffer) only when the version changed, so a replaced template takes effect for the next job.
 */
export class TenantSeals {
  private readonly cache = new Map<string, { version: string; seal: LoadedSeal }>();

  constructor(private readonly store: SealTemplateStore) {}

  async get(tenant: string, name: string): Promise<LoadedSeal | undefined> {
    const version = await this.store.version(tenant, name);
    if (version === undefined) return undefined;
    const key = `${tenant}\0${name}`;
    const cached = this.cache.get(key);
    if (cached?.version === version) return cached.seal;
    const stored = await this.store.get(tenant, name);
    // Deleted between the two reads: as if it had never been there.
    if (!stored) return undefined;
    const seal: LoadedSeal = {
      ...stored.style,
      image: stored.image === undefined ? undefined : Buffer.from(stored.image, "base64"),
    };
    this.cache.delete(key);
    if (this.cache.size >= MAX_CACHED_TENANT_SEALS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { version: stored.version, seal });
    return seal;
  }
}

/**
 * The seal template a job names: its tenant's template of that name first, else its signer
 * profile's seal. An unknown name is E_APPEARANCE (permanent: retrying will not make it appear).
 */
export async function sealOf(
  job: SignJob,
  profile: { profile: string; seals: Map<string, LoadedSeal> },
  tenantSeals: TenantSeals,
): Promise<LoadedSeal | undefined> {
  const name = job.appearance?.template;
  if (name === undefined) return undefined;
  const seal =
    (job.tenant === undefined ? undefined : await tenantSeals.get(job.tenant, name)) ??
    profile.seals.get(name);
  if (!seal) {
    const known = [...profile.seals.keys()].join(", ") || "none";
    const tenant = job.tenant === undefined ? "" : `tenant ${job.tenant} has no template "${name}" and `;
    throw new EsignError(
      "E_APPEARANCE",
      `${tenant}signer profile ${profile.profile} has no seal template "${name}" (it has: ${known})`,
    );
  }
  return seal;
}

/**
 * The pipeline's appearance options for a job: its placement, with the look taken from the seal
 * template it names (a job's own text or font size wins). Images come only from templates: jobs
 * stay small and never carry files.
 */
export function appearanceOf(
  job: SignJob,
  seal: LoadedSeal | undefined,
): VisibleSignatureOptions | undefined {
  const appearance = job.appearance;
  if (!appearance) return undefined;
  const page = appearance.page ?? job.field.page;
  const size = appearance.size ?? seal?.size;
  const placement = appearance.rect
    ? { kind: "rect" as const, page, rect: appearance.rect }
    : appearance.anchor !== undefined
      ? { kind: "anchor" as const, page, text: appearance.anchor, offset: appearance.anchorOffset, size }
      : { kind: "field" as const, page, size };
  return {
    placement,
    text: appearance.text ?? seal?.text,
    image: seal?.image,
    fontPath: seal?.font,
    fontSize: appearance.fontSize ?? seal?.fontSize,
    border: seal?.border,
    background: seal?.background,
  };
}
