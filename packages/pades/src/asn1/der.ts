/**
 * A minimal DER writer. CMS signed attributes are hashed and signed as exact bytes, so we build
 * them ourselves instead of round-tripping through an object model that may re-encode a field
 * (lengths, SET OF ordering) differently from the bytes that were signed.
 */

export const TAG = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Octets of the length field for content of `length` bytes. */
function lengthFieldSize(length: number): number {
  if (length < 0x80) return 1;
  let size = 1;
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) size++;
  return size;
}

/**
 * An element not written yet: nesting these and writing the outermost once (`write`) copies each
 * part once, where `tlv` at every level would copy the whole content again per level.
 */
export interface Pending {
  tag: number;
  parts: readonly Part[];
  /** Of the content. */
  length: number;
}

export type Part = Uint8Array | Pending;

const encodedSize = (part: Part): number =>
  part instanceof Uint8Array ? part.length : 1 + lengthFieldSize(part.length) + part.length;

export function pending(tag: number, ...parts: Part[]): Pending {
  let length = 0;
  for (const part of parts) length += encodedSize(part);
  return { tag, parts, length };
}

/** The element's encoding, in one new array. */
export function write(element: Pending): Uint8Array {
  const out = new Uint8Array(encodedSize(element));
  writeAt(out, 0, element);
  return out;
}

function writeAt(out: Uint8Array, offset: number, part: Part): number {
  if (part instanceof Uint8Array) {
    out.set(part, offset);
    return offset + part.length;
  }
  const { tag, parts, length } = part;
  const lengthSize = lengthFieldSize(length);
  out[offset] = tag;
  if (lengthSize === 1) out[offset + 1] = length;
  else {
    out[offset + 1] = 0x80 | (lengthSize - 1);
    for (let index = lengthSize, rest = length; index > 1; index--, rest = Math.floor(rest / 256)) {
      out[offset + index] = rest & 0xff;
    }
  }
  let at = offset + 1 + lengthSize;
  for (const inner of parts) at = writeAt(out, at, inner);
  return at;
}

/** Tag, length and the content parts, written into one new array. */
export function tlv(tag: number, ...content: Part[]): Uint8Array {
  return write(pending(tag, ...content));
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...items);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** The elements of a SET OF in DER order: sorted by their encodings (X.690 11.6). */
export const setOrder = (items: readonly Uint8Array[]): Uint8Array[] => [...items].sort(compareBytes);

export const setOf = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SET, ...setOrder(items));

/** [n] EXPLICIT, constructed. */
export const explicit = (tagNumber: number, ...content: Uint8Array[]): Uint8Array =>
  tlv(0xa0 | tagNumber, ...content);

/** The same value with its identifier octet replaced (IMPLICIT tagging of an encoded element). */
export function retag(encoded: Uint8Array, tag: number): Uint8Array {
  const out = encoded.slice();
  out[0] = tag;
  return out;
}

export const octetString = (bytes: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, bytes);
export const nullValue = (): Uint8Array => Uint8Array.of(TAG.NULL, 0);

/** A non-negative INTEGER; a leading 0x00 keeps the sign bit clear. */
export function unsignedInteger(value: number | Uint8Array): Uint8Array {
  let bytes = typeof value === "number" ? Uint8Array.of(value) : value;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && bytes[start + 1]! < 0x80) start++;
  bytes = bytes.subarray(start);
  return bytes[0]! >= 0x80 ? tlv(TAG.INTEGER, Uint8Array.of(0), bytes) : tlv(TAG.INTEGER, bytes);
}

/** Encodings of the first OIDs written: the constants we write, each encoded once (bounded: others may be read from input). */
const oidEncodings = new Map<string, Uint8Array>();
const OID_CACHE_SIZE = 64;

export function oid(dotted: string): Uint8Array {
  let encoded = oidEncodings.get(dotted);
  if (!encoded) {
    encoded = encodeOid(dotted);
    if (oidEncodings.size < OID_CACHE_SIZE) oidEncodings.set(dotted, encoded);
  }
  return encoded.slice(); // the caller's own copy: the cached one must stay as it is
}

function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(BigInt);
  if (arcs.length < 2) throw new Error(`not an OID: ${dotted}`);
  const numbers = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const arc of numbers) {
    const base128 = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) base128.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...base128);
  }
  return tlv(TAG.OID, Uint8Array.from(bytes));
}
