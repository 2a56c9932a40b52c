import { readFile } from "node:fs/promises";
import { AppearanceFont, readSealImage, type VisibleSignatureOptions } from "@esign/appearance";
import { EsignError, isEsignError } from "@esign/errors";
import type { SignJob } from "@esign/jobs";
import type { SealTemplate } from "./config";

/** A profile's seal template with its image read (and checked) once, at start-up. */
export interface LoadedSeal extends Omit<SealTemplate, "image"> {
  image: Uint8Array | undefined;
}

/**
 * Reads each seal template's image and font, so a missing or unreadable file stops the worker at
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
      if (seal.text !== "") await AppearanceFont.open(seal.font);
      loaded.set(name, { ...seal, image });
    } catch (cause) {
      const reason = isEsignError(cause) ? cause.message : (cause as Error).message;
      throw new EsignError("E_CONFIG", `signer profile ${profile}, seal ${name}: ${reason}`, { cause });
    }
  }
  return loaded;
}

/**
 * The pipeline's appearance options for a job: its placement, with the look taken from the seal
 * template it names (a job's own text or font size wins). Images come only from templates: jobs
 * stay small and never carry files.
 */
export function appearanceOf(
  job: SignJob,
  profile: string,
  seals: Map<string, LoadedSeal>,
): VisibleSignatureOptions | undefined {
  const appearance = job.appearance;
  if (!appearance) return undefined;
  const seal = appearance.template === undefined ? undefined : seals.get(appearance.template);
  if (appearance.template !== undefined && !seal) {
    const known = [...seals.keys()].join(", ") || "none";
    throw new EsignError(
      "E_APPEARANCE",
      `signer profile ${profile} has no seal template "${appearance.template}" (it has: ${known})`,
    );
  }
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
