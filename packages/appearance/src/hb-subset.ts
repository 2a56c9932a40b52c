import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { EsignError } from "@esign/errors";

/**
 * hb-subset, HarfBuzz's font subsetter, as harfbuzzjs ships it (a self-contained wasm module with a
 * C API and no imports). harfbuzzjs's JavaScript wrapper covers shaping only, so the few subset
 * calls are made on the module's exports here, the way harfbuzzjs's own subset example does.
 */
interface SubsetExports {
  memory: { buffer: ArrayBuffer };
  malloc(size: number): number;
  free(pointer: number): void;
  hb_blob_create(data: number, length: number, mode: number, userData: number, destroy: number): number;
  hb_blob_destroy(blob: number): void;
  hb_blob_get_data(blob: number, length: number): number;
  hb_blob_get_length(blob: number): number;
  hb_face_create(blob: number, index: number): number;
  hb_face_destroy(face: number): void;
  hb_face_reference_blob(face: number): number;
  hb_set_add(set: number, value: number): void;
  hb_subset_input_create_or_fail(): number;
  hb_subset_input_destroy(input: number): void;
  hb_subset_input_unicode_set(input: number): number;
  hb_subset_input_set_flags(input: number, flags: number): void;
  hb_subset_or_fail(face: number, input: number): number;
}

const HB_MEMORY_MODE_WRITABLE = 2;
/** Hinting instructions only matter to rasterizers at small pixel sizes; PDF viewers rarely use them. */
const HB_SUBSET_FLAGS_NO_HINTING = 0x1;

let subsetModule: Promise<SubsetExports> | undefined;

/** The project's libs (ES2023, no DOM) do not declare the WebAssembly global Node provides. */
const { WebAssembly: wasm } = globalThis as unknown as {
  WebAssembly: {
    instantiate(code: Uint8Array, imports: object): Promise<{ instance: { exports: unknown } }>;
  };
};

function loadSubsetModule(): Promise<SubsetExports> {
  subsetModule ??= (async () => {
    const path = createRequire(import.meta.url).resolve("harfbuzzjs/dist/harfbuzz-subset.wasm");
    const { instance } = await wasm.instantiate(await readFile(path), {});
    return instance.exports as unknown as SubsetExports;
  })();
  return subsetModule;
}

/** A font program copied into the subsetter's memory once, subset as often as needed. */
export class SubsetterFace {
  private constructor(
    private readonly hb: SubsetExports,
    private readonly face: number,
  ) {}

  static async load(font: Uint8Array, faceIndex: number): Promise<SubsetterFace> {
    const hb = await loadSubsetModule();
    const data = hb.malloc(font.length);
    new Uint8Array(hb.memory.buffer).set(font, data);
    // The blob owns `data` from here on (no destroy callback: the face lives as long as the process).
    const blob = hb.hb_blob_create(data, font.length, HB_MEMORY_MODE_WRITABLE, 0, 0);
    const face = hb.hb_face_create(blob, faceIndex);
    hb.hb_blob_destroy(blob);
    return new SubsetterFace(hb, face);
  }

  /** A font program with only the glyphs `codePoints` need (plus what GSUB reaches from them). */
  subset(codePoints: Iterable<number>): Uint8Array {
    const { hb } = this;
    const input = hb.hb_subset_input_create_or_fail();
    if (input === 0) throw new EsignError("E_INTERNAL", "the font subsetter is out of memory");
    try {
      const unicodes = hb.hb_subset_input_unicode_set(input);
      for (const codePoint of codePoints) hb.hb_set_add(unicodes, codePoint);
      hb.hb_subset_input_set_flags(input, HB_SUBSET_FLAGS_NO_HINTING);
      const subsetFace = hb.hb_subset_or_fail(this.face, input);
      if (subsetFace === 0) {
        throw new EsignError(
          "E_APPEARANCE",
          "the font could not be subset (is it a TrueType or OpenType font?)",
        );
      }
      const blob = hb.hb_face_reference_blob(subsetFace);
      try {
        const length = hb.hb_blob_get_length(blob);
        const data = hb.hb_blob_get_data(blob, 0);
        return Uint8Array.from(new Uint8Array(hb.memory.buffer, data, length));
      } finally {
        hb.hb_blob_destroy(blob);
        hb.hb_face_destroy(subsetFace);
      }
    } finally {
      hb.hb_subset_input_destroy(input);
    }
  }
}
