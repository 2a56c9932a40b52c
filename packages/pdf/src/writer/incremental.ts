import { randomUUID } from "node:crypto";
import type { PdfDocument } from "../reader/document";
import { corrupt } from "../reader/limits";
import { ENTRY_COMPRESSED, ENTRY_IN_FILE } from "../reader/xref";
import { asArray, name, PdfDict, type PdfObject, PdfRef, PdfStream, PdfString } from "../syntax/objects";
import { serializeObject, toSyntax } from "../syntax/serialize";

/** The bytes of a new revision and where each of its objects starts (absolute file offsets). */
export interface BuiltRevision {
  bytes: Uint8Array;
  offsets: Map<number, number>;
}

interface XrefRow {
  num: number;
  type: 0 | 1 | 2;
  field2: number;
  field3: number;
}

/**
 * Collects new and changed objects and writes them as one incremental update: the objects,
 * then an xref section of the same kind as the document's newest one, chained with /Prev.
 * Earlier bytes are never touched, so earlier signatures stay valid. In an encrypted document
 * the objects are encrypted with its key and crypt filters, and the trailer keeps /Encrypt.
 */
export class IncrementalUpdate {
  private readonly objects = new Map<number, { ref: PdfRef; value: PdfObject }>();
  private nextNum: number;

  constructor(private readonly doc: PdfDocument) {
    this.nextNum = doc.nextObjectNumber;
  }

  /** Reserves the next object number (no gaps: numbering continues at the previous /Size). */
  allocate(): PdfRef {
    return new PdfRef(this.nextNum++, 0);
  }

  add(value: PdfObject): PdfRef {
    const ref = this.allocate();
    this.set(ref, value);
    return ref;
  }

  /** Records a new object or a new version of an existing one (kept at its generation). */
  set(ref: PdfRef, value: PdfObject): void {
    this.objects.set(ref.num, { ref, value });
  }

  get(ref: PdfRef): PdfObject | undefined {
    return this.objects.get(ref.num)?.value;
  }

  /**
   * A changeable copy of an existing dictionary object, registered in this update (the same
   * copy on every call, so several edits to one object land in one new version).
   */
  async editDict(ref: PdfRef): Promise<PdfDict> {
    const current = await this.currentDict(ref);
    if (this.get(ref) === current) return current;
    const copy = current.clone();
    this.set(ref, copy);
    return copy;
  }

  /**
   * Appends to an array entry such as /Annots or /Fields. If the entry refers to an indirect
   * array, that array object is rewritten; otherwise the owner gets a new direct array (the
   * owner is edited through `editDict` when given by reference).
   */
  async appendToArray(owner: PdfDict | PdfRef, key: string, items: PdfObject[]): Promise<void> {
    const ownerDict = owner instanceof PdfRef ? await this.currentDict(owner) : owner;
    const value = ownerDict.get(key);
    if (value instanceof PdfRef) {
      const pending = this.get(value);
      const array = Array.isArray(pending) ? pending : await this.doc.resolveArray(value);
      if (array) {
        this.set(value, [...array, ...items]);
        return;
      }
    }
    const existing = Array.isArray(value) ? value : [];
    const target = owner instanceof PdfRef ? await this.editDict(owner) : owner;
    target.set(key, [...existing, ...items]);
  }

  private async currentDict(ref: PdfRef): Promise<PdfDict> {
    const pending = this.get(ref);
    if (pending instanceof PdfDict) return pending;
    const original = await this.doc.resolve(ref);
    if (!(original instanceof PdfDict)) throw corrupt(`object ${ref.num} is not a dictionary`);
    return original;
  }

  build(): BuiltRevision {
    const base = this.doc.source.size;
    const chunks: Buffer[] = [];
    let length = 0;
    const push = (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
      chunks.push(bytes);
      length += bytes.length;
    };
    if (base > 0 && !this.doc.endsWithNewline) push("\n");

    const offsets = new Map<number, number>();
    const sorted = [...this.objects.values()].sort((a, b) => a.ref.num - b.ref.num);
    const encryption = this.doc.encryption;
    for (const { ref, value } of sorted) {
      offsets.set(ref.num, base + length);
      push(`${ref.num} ${ref.gen} obj\n`);
      push(serializeObject(encryption ? encryption.encryptObject(value, ref) : value));
      push("\nendobj\n");
    }

    const rows: XrefRow[] = sorted.map(({ ref }) => ({
      num: ref.num,
      type: 1,
      field2: offsets.get(ref.num)!,
      field3: ref.gen,
    }));
    const xrefOffset = base + length;
    const trailer = this.trailerDict();
    if (this.doc.xrefKind === "table") {
      push(classicSection(this.withRecoveredRows(rows), trailer));
    } else {
      const xrefRef = this.allocate();
      rows.push({ num: xrefRef.num, type: 1, field2: xrefOffset, field3: 0 });
      trailer.set("Size", this.nextNum);
      push(`${xrefRef.num} 0 obj\n`);
      push(serializeObject(xrefStream(this.withRecoveredRows(rows), trailer)));
      push("\nendobj\n");
    }
    push(`startxref\n${xrefOffset}\n%%EOF\n`);
    return { bytes: Buffer.concat(chunks, length), offsets };
  }

  /** After recovery the old xref cannot be trusted: list every live object, not only ours. */
  private withRecoveredRows(rows: XrefRow[]): XrefRow[] {
    if (!this.doc.recovered) return rows;
    const ours = new Set(rows.map((row) => row.num));
    const all: XrefRow[] = [{ num: 0, type: 0, field2: 0, field3: 65535 }, ...rows];
    for (const { num, entry } of this.doc.liveObjectEntries()) {
      if (ours.has(num)) continue;
      if (entry?.kind === ENTRY_IN_FILE) all.push({ num, type: 1, field2: entry.offset, field3: entry.gen });
      if (entry?.kind === ENTRY_COMPRESSED)
        all.push({ num, type: 2, field2: entry.streamNum, field3: entry.index });
    }
    return all.sort((a, b) => a.num - b.num);
  }

  private trailerDict(): PdfDict {
    const previous = this.doc.trailer;
    const encrypted = this.doc.encryption !== undefined;
    const trailer = PdfDict.of({
      Size: this.nextNum,
      Root: previous.get("Root"),
      Info: previous.get("Info"),
      // The same encryption dictionary: readers find the key through the newest trailer.
      Encrypt: encrypted ? previous.get("Encrypt") : undefined,
      // An encrypted file without /ID derives its key from an empty one: adding one would change it.
      ID: encrypted && !previous.has("ID") ? undefined : nextDocumentId(previous.get("ID")),
    });
    if (!this.doc.recovered && this.doc.startxref !== undefined) trailer.set("Prev", this.doc.startxref);
    return trailer;
  }
}

/**
 * Keeps the permanent first /ID element (an encrypted file's key depends on it) and writes a
 * fresh second one (both new when absent).
 */
function nextDocumentId(previous: PdfObject | undefined): PdfObject[] {
  // A version 4 UUID is 122 random bits, and Node draws them from a pool: one system call per 128.
  const fresh = new PdfString(Buffer.from(randomUUID().replaceAll("-", ""), "hex"), true);
  const first = asArray(previous)?.[0];
  return [first instanceof PdfString ? new PdfString(first.bytes, true) : fresh, fresh];
}

/** Groups sorted rows into runs of consecutive object numbers: xref subsections. */
function subsections(rows: XrefRow[]): XrefRow[][] {
  const runs: XrefRow[][] = [];
  for (const row of rows) {
    const run = runs.at(-1);
    if (run && run.at(-1)!.num + 1 === row.num) run.push(row);
    else runs.push([row]);
  }
  return runs;
}

function classicSection(rows: XrefRow[], trailer: PdfDict): string {
  let out = "xref\n";
  for (const run of subsections(rows)) {
    out += `${run[0]!.num} ${run.length}\n`;
    for (const row of run) {
      const kind = row.type === 0 ? "f" : "n";
      out += `${String(row.field2).padStart(10, "0")} ${String(row.field3).padStart(5, "0")} ${kind}\r\n`;
    }
  }
  return `${out}trailer\n${toSyntax(trailer)}\n`;
}

/** An uncompressed xref stream (`/Type /XRef /W /Index`) for the given rows. */
function xrefStream(rows: XrefRow[], trailer: PdfDict): PdfStream {
  const width = (max: number) => Math.max(1, Math.ceil(Math.log2(max + 1) / 8));
  const widths = [
    1,
    width(rows.reduce((max, row) => Math.max(max, row.field2), 0)),
    width(rows.reduce((max, row) => Math.max(max, row.field3), 0)),
  ];
  const entryLength = widths[0]! + widths[1]! + widths[2]!;
  const data = Buffer.alloc(rows.length * entryLength);
  rows.forEach((row, i) => {
    let position = i * entryLength;
    for (const [value, w] of [
      [row.type, widths[0]!],
      [row.field2, widths[1]!],
      [row.field3, widths[2]!],
    ] as const) {
      data.writeUIntBE(value, position, w);
      position += w;
    }
  });
  const index = subsections(rows).flatMap((run) => [run[0]!.num, run.length]);
  const dict = trailer.clone();
  dict.set("Type", name("XRef")).set("W", widths).set("Index", index);
  return new PdfStream(dict, undefined, data);
}
