import { deflateSync } from "node:zlib";
import { EsignError } from "@esign/errors";
import { type IncrementalUpdate, name, PdfDict, type PdfObject, type PdfRef, PdfStream } from "@esign/pdf";
import { PNG } from "pngjs";

/** Larger images only make the signature revision heavy: a seal is a few centimetres wide. */
const MAX_IMAGE_PIXELS = 16_000_000;

export interface SealImage {
  width: number;
  height: number;
  /** Adds the image XObject (and its soft mask) to `update`. */
  embed(update: IncrementalUpdate): PdfRef;
}

export interface ImageOptions {
  /** PDF/A-1 forbids soft masks: transparent pixels are composited onto white instead. */
  flattenTransparency?: boolean;
  /**
   * The device colour space colour pixels must use: a PDF/A file allows only the one of its output
   * intent (gray is always allowed). Default: any (a PNG's colour pixels become RGB).
   */
  colorSpace?: ColorSpace;
}

export type ColorSpace = "rgb" | "gray" | "cmyk";

/** Decoded images by their bytes (a profile's seal is the same buffer for every job) and options. */
const decoded = new WeakMap<Uint8Array, Map<string, SealImage>>();

/**
 * A PNG (alpha becomes an /SMask) or a JPEG (embedded as is, /DCTDecode). Anything else is
 * E_APPEARANCE. The same bytes with the same options are decoded and compressed once.
 */
export function readSealImage(bytes: Uint8Array, options: ImageOptions = {}): SealImage {
  const key = `${options.flattenTransparency === true}:${options.colorSpace ?? "any"}`;
  let byOptions = decoded.get(bytes);
  const cached = byOptions?.get(key);
  if (cached) return cached;
  let image: SealImage;
  if (bytes[0] === 0x89 && Buffer.from(bytes.subarray(1, 4)).toString("latin1") === "PNG") {
    image = pngImage(bytes, options);
  } else if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    image = jpegImage(bytes, options.colorSpace);
  } else {
    throw new EsignError("E_APPEARANCE", "the seal image is neither a PNG nor a JPEG file");
  }
  if (!byOptions) {
    byOptions = new Map();
    decoded.set(bytes, byOptions);
  }
  byOptions.set(key, image);
  return image;
}

function unreadable(cause: unknown): EsignError {
  return new EsignError("E_APPEARANCE", `the seal image is unreadable: ${(cause as Error).message}`, {
    cause,
  });
}

function checkSize(width: number, height: number): void {
  if (width < 1 || height < 1 || width * height > MAX_IMAGE_PIXELS) {
    throw new EsignError(
      "E_APPEARANCE",
      `the seal image is ${width}x${height} pixels; at most ${MAX_IMAGE_PIXELS} pixels are accepted`,
    );
  }
}

function pngImage(bytes: Uint8Array, options: ImageOptions): SealImage {
  let png: PNG;
  try {
    // pngjs decodes every colour type, bit depth and interlacing to 8-bit RGBA.
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (cause) {
    throw unreadable(cause);
  }
  const { width, height, data } = png;
  checkSize(width, height);
  const pixels = width * height;
  let gray = true;
  let opaque = true;
  for (let i = 0; i < pixels * 4; i += 4) {
    if (data[i] !== data[i + 1] || data[i] !== data[i + 2]) gray = false;
    if (data[i + 3] !== 255) opaque = false;
  }
  const flatten = !opaque && options.flattenTransparency === true;
  const space: ColorSpace = gray ? "gray" : (options.colorSpace ?? "rgb");
  const channels = space === "gray" ? 1 : space === "rgb" ? 3 : 4;
  const color = Buffer.alloc(pixels * channels);
  const alpha = opaque || flatten ? undefined : Buffer.alloc(pixels);
  const rgb = [0, 0, 0];
  for (let p = 0; p < pixels; p++) {
    const a = data[p * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const value = data[p * 4 + c]!;
      // Over white: value·a + 255·(1 − a).
      rgb[c] = flatten ? Math.round((value * a + 255 * (255 - a)) / 255) : value;
    }
    color.set(convertPixel(rgb as [number, number, number], space), p * channels);
    if (alpha) alpha[p] = a;
  }
  // Compressed here, once per decoded image (which readSealImage caches).
  const compressedColor = deflateSync(color);
  const compressedAlpha = alpha && deflateSync(alpha);
  return {
    width,
    height,
    embed(update) {
      const smask =
        compressedAlpha &&
        update.add(
          imageStream(width, height, name("DeviceGray"), { Filter: name("FlateDecode") }, compressedAlpha),
        );
      return update.add(
        imageStream(
          width,
          height,
          name(DEVICE_SPACES[space]),
          { Filter: name("FlateDecode"), SMask: smask },
          compressedColor,
        ),
      );
    },
  };
}

const DEVICE_SPACES = { gray: "DeviceGray", rgb: "DeviceRGB", cmyk: "DeviceCMYK" } as const;

/**
 * One 8-bit RGB pixel in the target space. Without a colour management module the conversions are
 * the textbook ones (luma; naive CMYK with full black generation): close enough for a seal.
 */
function convertPixel([r, g, b]: [number, number, number], space: ColorSpace): number[] {
  if (space === "rgb") return [r, g, b];
  if (space === "gray") return [Math.round(0.299 * r + 0.587 * g + 0.114 * b)];
  const k = 255 - Math.max(r, g, b);
  const part = (value: number) => (k === 255 ? 0 : Math.round(((255 - value - k) * 255) / (255 - k)));
  return [part(r), part(g), part(b), k];
}

function imageStream(
  width: number,
  height: number,
  colorSpace: PdfObject,
  extra: Record<string, PdfObject | undefined>,
  data: Uint8Array,
): PdfStream {
  return new PdfStream(
    PdfDict.of({
      Type: name("XObject"),
      Subtype: name("Image"),
      Width: width,
      Height: height,
      ColorSpace: colorSpace,
      BitsPerComponent: 8,
      ...extra,
    }),
    undefined,
    data,
  );
}

/** Start-of-frame markers (baseline, extended, progressive, lossless; not DHT/JPG/DAC). */
const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * A JPEG goes into the PDF unchanged (/DCTDecode); only its frame header is read, for the size and
 * the number of components. Adobe's CMYK JPEGs (APP14) store inverted values, hence /Decode.
 */
function jpegImage(bytes: Uint8Array, allowed: ColorSpace | undefined): SealImage {
  const view = Buffer.from(bytes);
  let adobe = false;
  let offset = 2;
  while (offset + 4 <= view.length) {
    if (view[offset] !== 0xff) throw unreadable(new Error(`no JPEG marker at byte ${offset}`));
    const marker = view[offset + 1]!;
    if (marker === 0xff) {
      offset++;
      continue;
    }
    const length = view.readUInt16BE(offset + 2);
    if (marker === 0xee && view.toString("latin1", offset + 4, offset + 9) === "Adobe") adobe = true;
    if (SOF_MARKERS.has(marker)) {
      if (offset + 10 > view.length) break;
      const precision = view[offset + 4]!;
      const height = view.readUInt16BE(offset + 5);
      const width = view.readUInt16BE(offset + 7);
      const components = view[offset + 9]!;
      checkSize(width, height);
      if (precision !== 8 || ![1, 3, 4].includes(components)) {
        throw new EsignError(
          "E_APPEARANCE",
          `the seal JPEG has ${components} components of ${precision} bits; 8-bit gray, RGB or CMYK are supported`,
        );
      }
      const space: ColorSpace = components === 1 ? "gray" : components === 3 ? "rgb" : "cmyk";
      // A JPEG is embedded as is, so it cannot be converted to the space a PDF/A output intent allows.
      if (allowed !== undefined && space !== "gray" && space !== allowed) {
        throw new EsignError(
          "E_APPEARANCE",
          `the document is PDF/A with a ${allowed.toUpperCase()} output intent; a ${space.toUpperCase()} JPEG seal would break its conformance (use a PNG, which is converted)`,
        );
      }
      const colorSpace = DEVICE_SPACES[space];
      return {
        width,
        height,
        embed: (update) =>
          update.add(
            imageStream(
              width,
              height,
              name(colorSpace),
              {
                Filter: name("DCTDecode"),
                Decode: components === 4 && adobe ? [1, 0, 1, 0, 1, 0, 1, 0] : undefined,
              },
              bytes,
            ),
          ),
      };
    }
    offset += 2 + length;
  }
  throw unreadable(new Error("no JPEG frame header found"));
}

/** A signer's drawn or typed signature: a few hundred pixels of pen strokes, not a photograph. */
export const MAX_SIGNATURE_IMAGE_BYTES = 200 * 1024;
const MAX_SIGNATURE_IMAGE_SIDE = 2000;
const PNG_DATA_URL = /^data:image\/png;base64,([A-Za-z0-9+/]+={0,2})$/;

/**
 * The PNG bytes of a signer's signature image, given as a `data:image/png;base64,` URL (what a
 * canvas's toDataURL answers). A string that is no such URL, or decodes to more than
 * MAX_SIGNATURE_IMAGE_BYTES, is E_INVALID_REQUEST; bytes that are no PNG, have no sensible size
 * (at most MAX_SIGNATURE_IMAGE_SIDE pixels a side) or do not decode are E_APPEARANCE.
 */
export function readSignatureImage(dataUrl: string): Uint8Array {
  const base64 = PNG_DATA_URL.exec(dataUrl)?.[1];
  if (base64 === undefined) {
    throw new EsignError("E_INVALID_REQUEST", "signatureImage must be a data:image/png;base64, URL");
  }
  // 4 characters of base64 carry 3 bytes: refuse before decoding anything oversized.
  if (Math.floor((base64.length * 3) / 4) > MAX_SIGNATURE_IMAGE_BYTES + 2) {
    throw new EsignError(
      "E_INVALID_REQUEST",
      `signatureImage is larger than ${MAX_SIGNATURE_IMAGE_BYTES / 1024} KiB`,
    );
  }
  const bytes = new Uint8Array(Buffer.from(base64, "base64"));
  if (bytes.length > MAX_SIGNATURE_IMAGE_BYTES) {
    throw new EsignError(
      "E_INVALID_REQUEST",
      `signatureImage is larger than ${MAX_SIGNATURE_IMAGE_BYTES / 1024} KiB`,
    );
  }
  // The signature (8 bytes), then the IHDR chunk: length, type, width and height (big-endian).
  const header = Buffer.from(bytes.subarray(0, 24));
  if (!header.subarray(0, 8).equals(PNG_SIGNATURE) || header.toString("latin1", 12, 16) !== "IHDR") {
    throw new EsignError("E_APPEARANCE", "signatureImage is not a PNG image");
  }
  const width = header.readUInt32BE(16);
  const height = header.readUInt32BE(20);
  if (width < 1 || height < 1 || width > MAX_SIGNATURE_IMAGE_SIDE || height > MAX_SIGNATURE_IMAGE_SIDE) {
    throw new EsignError(
      "E_APPEARANCE",
      `signatureImage is ${width}x${height} pixels; at most ${MAX_SIGNATURE_IMAGE_SIDE} a side are accepted`,
    );
  }
  // Decoded in full now, so a corrupt image is refused to the signer, not to the signing job.
  readSealImage(bytes);
  return bytes;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
