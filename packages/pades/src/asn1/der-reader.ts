/**
 * A tag/length walker over DER, for the structures we read on every signature (our own CMS, its
 * signer info and attributes) without building an asn1js object tree. It only says yes to input
 * that asn1js reads the same way without complaint: definite lengths, low tag numbers, and a short
 * list of element types whose content it does not interpret or whose checks are repeated here.
 * Everything else (BER, other types, anything malformed) gets undefined/false, and the caller hands
 * the input to the full parser (`parseBer`), which gives the results and error messages.
 */

/** One element: its identifier octet, where it starts, where its content starts, where it ends. */
export interface DerElement {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export const DER_TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
  CONTEXT_PRIMITIVE_0: 0x80,
} as const;

const CONSTRUCTED = 0x20;
const CLASS_MASK = 0xc0;
const CONTEXT_CLASS = 0x80;
/** Deeper nesting than any certificate or CMS attribute we read goes to the full parser. */
const MAX_DEPTH = 32;
/**
 * Bounds on what is walked here; larger input goes to the full parser. asn1js has resource limits
 * of its own (100 levels, 10,000 elements per parse, counting what it finds inside OCTET STRINGs);
 * the walker does not reproduce those, input must be shaped to reach them.
 */
const MAX_PLAIN_ELEMENTS = 2000;
const MAX_PLAIN_LENGTH = 1 << 20;
/** Arcs of up to 7 base-128 digits (49 bits) are exact as numbers, in asn1js and here. */
const MAX_ARC_OCTETS = 7;

/** The element at `offset`, or undefined for anything but a definite length and a low tag number. */
export function elementAt(bytes: Uint8Array, offset: number, limit: number): DerElement | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = bytes[offset + 1]!;
  let contentStart = offset + 2;
  if (length === 0x80) return undefined; // BER indefinite length
  if (length > 0x80) {
    const octets = length & 0x7f;
    if (octets > 4 || contentStart + octets > limit) return undefined;
    length = 0;
    for (let index = 0; index < octets; index++) length = length * 256 + bytes[contentStart + index]!;
    contentStart += octets;
  }
  const end = contentStart + length;
  return end > limit ? undefined : { tag, start: offset, contentStart, end };
}

/** The one element that spans all of `bytes`, or undefined. */
export function wholeElement(bytes: Uint8Array): DerElement | undefined {
  const element = elementAt(bytes, 0, bytes.length);
  return element?.end === bytes.length ? element : undefined;
}

/** The elements inside `parent`, which they must fill exactly, or undefined. */
export function elementsIn(bytes: Uint8Array, parent: DerElement): DerElement[] | undefined {
  const elements: DerElement[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const element = elementAt(bytes, offset, parent.end);
    if (!element) return undefined;
    elements.push(element);
    offset = element.end;
  }
  return elements;
}

/** The element's own encoding, copied (results must not change when the input buffer does). */
export function copyOf(bytes: Uint8Array, element: DerElement): Uint8Array {
  return bytes.slice(element.start, element.end);
}

/** The content octets of a primitive element, copied. */
export function contentOf(bytes: Uint8Array, element: DerElement): Uint8Array {
  return bytes.slice(element.contentStart, element.end);
}

/**
 * The dotted OBJECT IDENTIFIER, as asn1js would print it, or undefined unless it is a minimal
 * encoding of arcs that fit in 49 bits (those the full parser reads: it prints the same string).
 */
export function oidAt(bytes: Uint8Array, element: DerElement): string | undefined {
  const arcs: number[] = [];
  if (element.tag !== DER_TAG.OID || !readOidArcs(bytes, element, arcs)) return undefined;
  const first = arcs[0]!;
  const head = first < 40 ? `0.${first}` : first < 80 ? `1.${first - 40}` : `2.${first - 80}`;
  return arcs.length === 1 ? head : `${head}.${arcs.slice(1).join(".")}`;
}

/** Whether the content is such an OID; its base-128 numbers go to `arcs` when given. */
function readOidArcs(bytes: Uint8Array, element: DerElement, arcs?: number[]): boolean {
  const { contentStart, end } = element;
  if (end === contentStart) return false;
  let arc = 0;
  let arcOctets = 0;
  for (let index = contentStart; index < end; index++) {
    const octet = bytes[index]!;
    if (arcOctets === 0 && octet === 0x80) return false; // a leading zero digit: not minimal
    if (++arcOctets > MAX_ARC_OCTETS) return false;
    arc = arc * 128 + (octet & 0x7f);
    if (octet & 0x80) continue;
    arcs?.push(arc);
    arc = 0;
    arcOctets = 0;
  }
  return arcOctets === 0;
}

/**
 * Whether the element and everything inside it read the same through asn1js, without errors:
 * SEQUENCE, SET and context-specific elements built of such elements, context-specific primitives,
 * and INTEGER, BIT STRING, OCTET STRING, NULL, OBJECT IDENTIFIER and three string types with
 * content asn1js accepts. Other types (times, BOOLEAN, ...), deep nesting and many elements (where
 * asn1js has limits of its own) answer false: the full parser reads those.
 */
export function isPlainDer(bytes: Uint8Array, element: DerElement): boolean {
  if (element.end - element.start > MAX_PLAIN_LENGTH) return false;
  const budget = { elements: MAX_PLAIN_ELEMENTS };
  return isPlainWithin(bytes, element, 0, budget);
}

function isPlainWithin(
  bytes: Uint8Array,
  element: DerElement,
  depth: number,
  budget: { elements: number },
): boolean {
  if (--budget.elements < 0) return false;
  const { tag, contentStart, end } = element;
  const tagClass = tag & CLASS_MASK;
  if (tag & CONSTRUCTED) {
    const containerTag = tagClass === CONTEXT_CLASS || tag === DER_TAG.SEQUENCE || tag === DER_TAG.SET;
    if (!containerTag || depth >= MAX_DEPTH) return false;
    for (let offset = contentStart; offset < end; ) {
      const child = elementAt(bytes, offset, end);
      if (!child || !isPlainWithin(bytes, child, depth + 1, budget)) return false;
      offset = child.end;
    }
    return true;
  }
  if (tagClass === CONTEXT_CLASS) return true;
  switch (tag) {
    case DER_TAG.INTEGER:
      return end > contentStart;
    case DER_TAG.BIT_STRING:
      return end > contentStart && bytes[contentStart]! < 8; // unused bits 0-7
    case DER_TAG.NULL:
      return end === contentStart;
    case DER_TAG.OID:
      return readOidArcs(bytes, element);
    case DER_TAG.OCTET_STRING:
    case DER_TAG.UTF8_STRING:
    case DER_TAG.PRINTABLE_STRING:
    case DER_TAG.IA5_STRING:
      return true;
    default:
      return false;
  }
}

/** The content of `bytes` when they are exactly one plain primitive OCTET STRING, else undefined. */
export function derOctetString(bytes: Uint8Array): Uint8Array | undefined {
  const element = wholeElement(bytes);
  return element?.tag === DER_TAG.OCTET_STRING ? contentOf(bytes, element) : undefined;
}
