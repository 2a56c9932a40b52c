import { asBuffer, findForward, findInTail, parseAt } from "../io/io";
import type { ByteSource } from "../io/source";
import { decodeStream } from "../syntax/filters";
import { asArray, asInteger, isName, PdfDict, PdfStream } from "../syntax/objects";
import type { IndirectObject, Parser } from "../syntax/parser";
import { corrupt, limitExceeded, type PdfLimits } from "./limits";

const ENTRY_UNKNOWN = 0;
/** An entry's bytes: offset or stream number (float64), generation or index (uint32), kind (uint8). */
const BYTES_PER_ENTRY = 8 + 4 + 1;
export const ENTRY_FREE = 1;
export const ENTRY_IN_FILE = 2;
export const ENTRY_COMPRESSED = 3;

export type XrefEntry =
  | { kind: typeof ENTRY_IN_FILE; offset: number; gen: number }
  | { kind: typeof ENTRY_COMPRESSED; streamNum: number; index: number }
  | { kind: typeof ENTRY_FREE };

/**
 * The merged cross-reference of every revision, newest entry winning. Typed arrays keep a
 * million-object file at ~13 MB instead of a Map of objects.
 */
export class XrefTable {
  private kinds = new Uint8Array(0);
  private first = new Float64Array(0);
  private second = new Uint32Array(0);
  /** One past the highest object number any section mentions. */
  size = 0;
  /** Which section (counted newest first) marked an object free, for objects whose newest entry is free. */
  private readonly freedInSection = new Map<number, number>();
  private section = 0;

  constructor(private readonly maxObjects: number) {}

  /** Room for object numbers below `needed`, grown by doubling (not past the limit). */
  reserve(needed: number): void {
    if (needed > this.maxObjects) throw limitExceeded(`more than ${this.maxObjects} objects`);
    if (needed <= this.kinds.length) return;
    const capacity = Math.min(this.maxObjects, Math.max(needed, this.kinds.length * 2, 64));
    // One allocation for the three arrays: each typed array of its own is a backing store to
    // allocate and for the GC to track, and a document is read twice per signature.
    const memory = new ArrayBuffer(capacity * BYTES_PER_ENTRY);
    const first = new Float64Array(memory, 0, capacity);
    first.set(this.first);
    const second = new Uint32Array(memory, capacity * 8, capacity);
    second.set(this.second);
    const kinds = new Uint8Array(memory, capacity * 12, capacity);
    kinds.set(this.kinds);
    this.kinds = kinds;
    this.first = first;
    this.second = second;
  }

  /**
   * Records an entry unless a newer section already defined the object (sections are read
   * newest first). A free entry does not block: hybrid files mark their compressed objects
   * free in the table and define them in the /XRefStm that is read after it, and resolving a
   * deleted object to its older definition is harmless because nothing refers to it.
   */
  setIfUnknown(num: number, kind: number, first: number, second: number): void {
    this.reserve(num + 1);
    this.size = Math.max(this.size, num + 1);
    const current = this.kinds[num];
    if (current !== ENTRY_UNKNOWN && current !== ENTRY_FREE) return;
    if (current === ENTRY_UNKNOWN && kind === ENTRY_FREE) this.freedInSection.set(num, this.section);
    // A hybrid file's /XRefStm belongs to the same section as its table: that is no later freeing.
    else if (kind !== ENTRY_FREE && this.freedInSection.get(num) === this.section)
      this.freedInSection.delete(num);
    this.kinds[num] = kind;
    this.first[num] = first;
    this.second[num] = second;
  }

  /** The entries read from now on belong to the next older section. */
  startOlderSection(): void {
    this.section++;
  }

  /**
   * Object numbers whose newest entry is free, though an older section may still define them (and
   * `get` then returns that definition). Object 0, the head of the free list, is left out.
   */
  *freedObjects(): Generator<number> {
    for (const num of this.freedInSection.keys()) if (num !== 0) yield num;
  }

  /**
   * Adds the sections older than every section read so far, given as `older`: the table another
   * reader built from exactly those sections (same limits). The result is entry for entry, and
   * freed object for freed object in the same order, what reading those sections on would give:
   * an entry read so far stands, except that a free one gives way to an older definition.
   */
  appendOlder(older: XrefTable): void {
    // The older sections could only mark free what the newer ones left unknown, and only after them.
    for (const [num, section] of older.freedInSection) {
      if (num >= this.size || this.kinds[num] === ENTRY_UNKNOWN)
        this.freedInSection.set(num, section + this.section);
    }
    this.reserve(older.size);
    for (let num = 0; num < older.size; num++) {
      const olderKind = older.kinds[num]!;
      if (olderKind === ENTRY_UNKNOWN) continue;
      const kind = this.kinds[num];
      if (kind !== ENTRY_UNKNOWN && (kind !== ENTRY_FREE || olderKind === ENTRY_FREE)) continue;
      this.kinds[num] = olderKind;
      this.first[num] = older.first[num]!;
      this.second[num] = older.second[num]!;
    }
    this.size = Math.max(this.size, older.size);
    this.section += older.section;
  }

  /** Overwrites an entry (recovery: a later definition in the file wins). */
  set(num: number, kind: number, first: number, second: number): void {
    this.reserve(num + 1);
    this.size = Math.max(this.size, num + 1);
    this.kinds[num] = kind;
    this.first[num] = first;
    this.second[num] = second;
  }

  get(num: number): XrefEntry | undefined {
    if (num < 0 || num >= this.kinds.length) return undefined;
    switch (this.kinds[num]) {
      case ENTRY_IN_FILE:
        return { kind: ENTRY_IN_FILE, offset: this.first[num]!, gen: this.second[num]! };
      case ENTRY_COMPRESSED:
        return { kind: ENTRY_COMPRESSED, streamNum: this.first[num]!, index: this.second[num]! };
      case ENTRY_FREE:
        return { kind: ENTRY_FREE };
      default:
        return undefined;
    }
  }

  /** Object numbers with a live entry, ascending. */
  *liveObjects(): Generator<number> {
    for (let num = 1; num < this.size; num++) {
      const kind = this.kinds[num];
      if (kind === ENTRY_IN_FILE || kind === ENTRY_COMPRESSED) yield num;
    }
  }
}

export type XrefKind = "table" | "stream";

export interface XrefInfo {
  table: XrefTable;
  /** The newest trailer (for xref streams: the stream's dictionary). */
  trailer: PdfDict;
  /** Offset the final `startxref` points to: the new revision's `/Prev`. */
  startxref: number;
  /** Kind of the newest section, which the next revision repeats. */
  kind: XrefKind;
  /** How many sections the chain has. */
  sections: number;
}

/**
 * Locates the final `startxref` and reads the chain of xref sections it starts. `older` is the
 * xref another reader read, with the same limits, from the first bytes of this source: where the
 * chain reaches its `startxref`, the rest of the chain is those very bytes, so it is taken from
 * there instead of being parsed again.
 */
export async function readXref(source: ByteSource, limits: PdfLimits, older?: XrefInfo): Promise<XrefInfo> {
  const keyword = await findInTail(source, "startxref", 64 * 1024);
  if (keyword < 0) throw corrupt("no startxref in the last 64 KiB");
  const startxref = await parseAt(source, keyword, 256, 4, (parser) => {
    parser.expectKeyword("startxref");
    return parser.tryUnsigned();
  });
  if (startxref === undefined) throw corrupt("startxref is not followed by an offset");

  const table = new XrefTable(limits.maxObjects);
  const visited = new Set<number>();
  let trailer: PdfDict | undefined;
  let kind: XrefKind | undefined;
  let offset: number | undefined = startxref;
  while (offset !== undefined) {
    if (older && offset === older.startxref) {
      // Offsets of those sections all lie before this reader's: the chain cannot loop back into them.
      if (visited.size + older.sections > limits.maxXrefSections)
        throw limitExceeded(`more than ${limits.maxXrefSections} xref sections`);
      table.appendOlder(older.table);
      if (trailer) inheritTrailerKeys(trailer, older.trailer);
      else trailer = older.trailer.clone();
      kind ??= older.kind;
      return { table, trailer, startxref, kind, sections: visited.size + older.sections };
    }
    if (visited.has(offset)) throw corrupt(`the /Prev chain loops back to offset ${offset}`);
    if (visited.size >= limits.maxXrefSections)
      throw limitExceeded(`more than ${limits.maxXrefSections} xref sections`);
    visited.add(offset);
    table.startOlderSection();
    const section = await readSection(source, offset, table, limits);
    if (trailer) inheritTrailerKeys(trailer, section.trailer);
    else trailer = section.trailer;
    kind ??= section.kind;
    offset = asInteger(section.trailer.get("Prev"));
  }
  return { table, trailer: trailer!, startxref, kind: kind!, sections: visited.size };
}

/** Keys an older trailer carries and a newer one omitted (seen in linearized files). */
function inheritTrailerKeys(newest: PdfDict, older: PdfDict): void {
  for (const key of ["Root", "Info", "ID", "Encrypt"]) {
    const value = older.get(key);
    if (!newest.has(key) && value !== undefined) newest.set(key, value);
  }
}

async function readSection(
  source: ByteSource,
  offset: number,
  table: XrefTable,
  limits: PdfLimits,
): Promise<{ trailer: PdfDict; kind: XrefKind }> {
  const head = asBuffer(await source.read(offset, 16)).toString("latin1");
  if (/^\s*xref/.test(head)) {
    const trailer = await readClassicSection(source, offset, table, limits);
    // Hybrid files: the /XRefStm stream lists the objects the table leaves out (compressed ones).
    const xrefStm = asInteger(trailer.get("XRefStm"));
    if (xrefStm !== undefined) await readXrefStream(source, xrefStm, table, limits);
    return { trailer, kind: "table" };
  }
  const trailer = await readXrefStream(source, offset, table, limits);
  return { trailer, kind: "stream" };
}

/** Classic tables are read in windows of this size (a million entries is 20 MB). */
const TABLE_WINDOW = 256 * 1024;

/** Where a classic table's reading stands between two read windows. */
interface ClassicCursor {
  needKeyword: boolean;
  nextNum: number;
  remaining: number;
}

type PendingEntry = [num: number, kind: number, first: number, second: number];

/** Classic `xref` table: read in windows so a million-entry table never sits in one buffer. */
async function readClassicSection(
  source: ByteSource,
  offset: number,
  table: XrefTable,
  limits: PdfLimits,
): Promise<PdfDict> {
  const cursor: ClassicCursor = { needKeyword: true, nextNum: 0, remaining: 0 };
  const pending: PendingEntry[] = [];
  let position = offset;
  for (;;) {
    const { consumed, done } = await parseAt(
      source,
      position,
      TABLE_WINDOW * 4,
      4,
      (parser) => readClassicWindow(parser, cursor, pending, limits.maxObjects),
      TABLE_WINDOW,
    );
    position += consumed;
    // Room for the whole window's entries at once, not by doubling from 64.
    let highest = -1;
    for (const [num] of pending) highest = Math.max(highest, num);
    table.reserve(highest + 1);
    for (const [num, kind, first, second] of pending) table.setIfUnknown(num, kind, first, second);
    pending.length = 0;
    if (done) break;
  }
  return parseAt(source, position, limits.maxObjectBytes, limits.maxNestingDepth, (parser) => {
    parser.expectKeyword("trailer");
    const trailer = parser.parseObject();
    if (!(trailer instanceof PdfDict)) throw corrupt("trailer is not a dictionary");
    return trailer;
  });
}

/**
 * Reads subsection headers and entries until `trailer`, or until the window is nearly used
 * up; returns how many bytes it consumed so the next window continues from there.
 */
function readClassicWindow(
  parser: Parser,
  cursor: ClassicCursor,
  out: PendingEntry[],
  maxObjects: number,
): { consumed: number; done: boolean } {
  if (cursor.needKeyword) {
    parser.expectKeyword("xref");
    cursor.needKeyword = false;
  }
  const safeEnd = parser.complete ? Number.POSITIVE_INFINITY : parser.buf.length - 64;
  for (;;) {
    parser.skipWhitespace();
    const at = parser.pos;
    if (at > safeEnd) return { consumed: at, done: false };
    if (cursor.remaining === 0) {
      const first = parser.tryUnsigned();
      if (first === undefined) return { consumed: at, done: true };
      const count = parser.tryUnsigned();
      if (count === undefined) throw corrupt("malformed xref subsection header");
      if (first + count > maxObjects) throw limitExceeded(`xref subsection beyond ${maxObjects} objects`);
      cursor.nextNum = first;
      cursor.remaining = count;
      continue;
    }
    const entryOffset = parser.tryUnsigned();
    const gen = parser.tryUnsigned();
    const type = parser.readToken();
    if (entryOffset === undefined || gen === undefined || (type !== "n" && type !== "f")) {
      throw corrupt(`malformed xref entry for object ${cursor.nextNum}`);
    }
    if (type === "n" && entryOffset > 0) out.push([cursor.nextNum, ENTRY_IN_FILE, entryOffset, gen]);
    else out.push([cursor.nextNum, ENTRY_FREE, 0, 0]);
    cursor.nextNum++;
    cursor.remaining--;
  }
}

/** Reads an xref stream at `offset` into the table and returns its dictionary. */
async function readXrefStream(
  source: ByteSource,
  offset: number,
  table: XrefTable,
  limits: PdfLimits,
): Promise<PdfDict> {
  const stream = await readStreamObjectAt(source, offset, limits);
  const dict = stream.dict;
  if (!isName(dict.get("Type"), "XRef")) throw corrupt(`object at ${offset} is not an xref stream`);
  const data = decodeStream(dict, await readStreamData(source, stream, limits), limits.maxDecodedStreamBytes);
  const widths = (asArray(dict.get("W")) ?? []).map((w) => asInteger(w) ?? -1);
  if (widths.length !== 3 || widths.some((w) => w < 0 || w > 8)) throw corrupt("invalid xref stream /W");
  const size = asInteger(dict.get("Size"));
  if (size === undefined || size < 0) throw corrupt("xref stream without /Size");
  if (size > limits.maxObjects) throw limitExceeded(`xref /Size ${size} exceeds ${limits.maxObjects}`);
  const index = (asArray(dict.get("Index")) ?? [0, size]).map((n) => asInteger(n) ?? -1);
  const entryLength = widths[0]! + widths[1]! + widths[2]!;
  let position = 0;
  for (let i = 0; i + 1 < index.length; i += 2) {
    const start = index[i]!;
    const count = index[i + 1]!;
    if (start < 0 || count < 0 || start + count > limits.maxObjects)
      throw corrupt("invalid xref stream /Index");
    for (let n = 0; n < count; n++) {
      if (position + entryLength > data.length) return dict; // short stream: keep what is there
      const type = widths[0] === 0 ? 1 : readField(data, position, widths[0]!);
      const field2 = readField(data, position + widths[0]!, widths[1]!);
      const field3 = readField(data, position + widths[0]! + widths[1]!, widths[2]!);
      position += entryLength;
      const num = start + n;
      if (type === 1) table.setIfUnknown(num, ENTRY_IN_FILE, field2, field3);
      else if (type === 2) table.setIfUnknown(num, ENTRY_COMPRESSED, field2, field3);
      else if (type === 0) table.setIfUnknown(num, ENTRY_FREE, 0, 0);
    }
  }
  return dict;
}

function readField(data: Uint8Array, position: number, width: number): number {
  let value = 0;
  for (let i = 0; i < width; i++) value = value * 256 + data[position + i]!;
  return value;
}

/** Parses an indirect object that must be a stream, without resolving references. */
/** Parses the indirect object at `offset`; a stream's data start is an absolute offset. */
export function parseIndirectAt(
  source: ByteSource,
  offset: number,
  limits: PdfLimits,
): Promise<IndirectObject> {
  return parseAt(source, offset, limits.maxObjectBytes, limits.maxNestingDepth, (parser, base) => {
    const object = parser.parseIndirectObject();
    return {
      ...object,
      streamStart: object.streamStart === undefined ? undefined : base + object.streamStart,
    };
  });
}

export async function readStreamObjectAt(
  source: ByteSource,
  offset: number,
  limits: PdfLimits,
): Promise<PdfStream> {
  const parsed = await parseIndirectAt(source, offset, limits);
  if (parsed.streamStart === undefined || !(parsed.value instanceof PdfDict)) {
    throw corrupt(`object at ${offset} is not a stream`);
  }
  const length = asInteger(parsed.value.get("Length"));
  return new PdfStream(parsed.value, { offset: parsed.streamStart, length: length ?? -1 });
}

/**
 * Returns a stream's raw bytes. A declared /Length that does not end at `endstream` (wrong,
 * indirect or absurdly large) is replaced by a bounded forward search for `endstream`.
 */
export async function readStreamData(
  source: ByteSource,
  stream: PdfStream,
  limits: PdfLimits,
): Promise<Uint8Array> {
  if (stream.data) return stream.data;
  const location = stream.location!;
  const length = await verifiedStreamLength(source, location.offset, location.length, limits);
  if (length > limits.maxDecodedStreamBytes) {
    throw limitExceeded(
      `a stream the reader needs is ${length} bytes (limit ${limits.maxDecodedStreamBytes})`,
    );
  }
  return source.read(location.offset, length);
}

async function verifiedStreamLength(
  source: ByteSource,
  start: number,
  declared: number,
  limits: PdfLimits,
): Promise<number> {
  if (declared >= 0 && start + declared <= source.size) {
    const after = asBuffer(await source.read(start + declared, 32)).toString("latin1");
    if (/^\s*endstream/.test(after)) return declared;
  }
  const searchLimit = Math.min(source.size, start + limits.maxDecodedStreamBytes + 16);
  const end = await findForward(source, "endstream", start, searchLimit);
  if (end < 0) {
    if (declared > source.size) throw corrupt(`stream /Length ${declared} runs past the end of the file`);
    throw corrupt(`no endstream after the stream at ${start}`);
  }
  let length = end - start;
  // The EOL before `endstream` is not part of the data.
  const tail = await source.read(Math.max(start, end - 2), Math.min(2, length));
  if (tail.length === 2 && tail[0] === 0x0d && tail[1] === 0x0a) length -= 2;
  else if (tail.length > 0 && (tail[tail.length - 1] === 0x0a || tail[tail.length - 1] === 0x0d)) length -= 1;
  return length;
}
