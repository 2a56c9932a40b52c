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

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(content);
  return concat([Uint8Array.of(tag), encodeLength(body.length), body]);
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...items);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** SET OF in DER: elements sorted by their encodings (X.690 11.6). */
export const setOf = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SET, ...[...items].sort(compareBytes));

/** [n] EXPLICIT, constructed. */
export const explicit = (tagNumber: number, ...content: Uint8Array[]): Uint8Array =>
  tlv(0xa0 | tagNumber, ...content);

/** The same value with its identifier octet replaced (IMPLICIT tagging of an encoded element). */
export function retag(encoded: Uint8Array, tag: number): Uint8Array {
  const out = Uint8Array.from(encoded);
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

export function oid(dotted: string): Uint8Array {
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
