import {
  type ByteSource,
  isName,
  openPdf,
  PdfDict,
  type PdfDocument,
  PdfName,
  type PdfObject,
  PdfRef,
  PdfStream,
  PdfString,
} from "@esign/pdf";

/** What the revisions after a signature changed, by kind of object. */
export interface LaterChanges {
  /** Objects added or replaced after the signed revision. */
  changedObjects: number;
  /** Counts per kind: signature, signature-field, form, dss, catalog, page-annotations, structure, other. */
  kinds: Record<string, number>;
  /** Only signatures, their fields/widgets, /DSS and time-stamps were added (what PAdES allows). */
  onlySignatureAndLtvUpdates: boolean;
  /** Numbers of the objects of kind "other", the ones that can change what the reader sees. */
  otherObjects: number[];
}

/** The first `length` bytes of a source: the document as it was when a signature was made. */
class PrefixSource implements ByteSource {
  constructor(
    private readonly base: ByteSource,
    readonly size: number,
  ) {}
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.base.read(offset, Math.max(0, Math.min(length, this.size - offset)));
  }
}

export function openRevision(source: ByteSource, length: number): Promise<PdfDocument> {
  return openPdf(new PrefixSource(source, length));
}

function sameObject(a: PdfObject | undefined, b: PdfObject | undefined): boolean {
  if (a === b) return true;
  if (a instanceof PdfRef && b instanceof PdfRef) return a.num === b.num && a.gen === b.gen;
  if (a instanceof PdfString && b instanceof PdfString) return Buffer.compare(a.bytes, b.bytes) === 0;
  if (a instanceof PdfName && b instanceof PdfName) return a.name === b.name;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => sameObject(item, b[i]));
  if (a instanceof PdfDict && b instanceof PdfDict) {
    const keys = new Set([...a.entries.keys(), ...b.entries.keys()]);
    return [...keys].every((key) => sameObject(a.get(key), b.get(key)));
  }
  return false;
}

/** Keys that differ between two versions of a dictionary. */
function changedKeys(before: PdfDict, after: PdfDict): string[] {
  const keys = new Set([...before.entries.keys(), ...after.entries.keys()]);
  return [...keys].filter((key) => !sameObject(before.get(key), after.get(key)));
}

function entryKey(entry: unknown): string {
  return JSON.stringify(entry);
}

/** Object numbers reachable from a value through references, bounded (for the /DSS tree). */
async function reachable(
  doc: PdfDocument,
  start: PdfObject | undefined,
  limit = 100_000,
): Promise<Set<number>> {
  const seen = new Set<number>();
  const pending: PdfObject[] = start === undefined ? [] : [start];
  while (pending.length > 0 && seen.size < limit) {
    const value = pending.pop()!;
    if (value instanceof PdfRef) {
      if (seen.has(value.num)) continue;
      seen.add(value.num);
      pending.push(await doc.getObject(value.num));
    } else if (Array.isArray(value)) {
      pending.push(...value);
    } else if (value instanceof PdfDict) {
      pending.push(...value.entries.values());
    } else if (value instanceof PdfStream) {
      pending.push(...value.dict.entries.values());
    }
  }
  return seen;
}

const ALLOWED_CATALOG_KEYS = new Set(["AcroForm", "DSS", "Perms", "Extensions"]);

async function classify(
  num: number,
  before: PdfDocument,
  after: PdfDocument,
  context: { dssObjects: Set<number>; formNum: number | undefined; catalogNum: number },
): Promise<string> {
  if (context.dssObjects.has(num)) return "dss";
  if (num === context.formNum) return "form";
  const object = await after.getObject(num);
  if (Array.isArray(object)) return "array";
  const dict = object instanceof PdfStream ? object.dict : object instanceof PdfDict ? object : undefined;
  if (!dict) return "other";
  const type = dict.get("Type");
  if (isName(type, "XRef") || isName(type, "ObjStm")) return "structure";
  if (isName(type, "Sig") || isName(type, "DocTimeStamp")) return "signature";
  if (isName(type, "DSS")) return "dss";
  if (isName(dict.get("FT"), "Sig")) return "signature-field";
  if (
    isName(dict.get("Subtype"), "Widget") &&
    isName((await after.resolveDict(dict.get("Parent")))?.get("FT"), "Sig")
  ) {
    return "signature-field";
  }
  const previous = await before.resolveDict(new PdfRef(num, 0)).catch(() => undefined);
  if (num === context.catalogNum) {
    const keys = previous ? changedKeys(previous, dict) : [];
    return keys.every((key) => ALLOWED_CATALOG_KEYS.has(key)) ? "catalog" : "other";
  }
  if (isName(type, "Page") && previous) {
    return changedKeys(previous, dict).every((key) => key === "Annots") ? "page-annotations" : "other";
  }
  return "other";
}

const ALLOWED_KINDS = new Set([
  "dss",
  "form",
  "array",
  "structure",
  "signature",
  "signature-field",
  "catalog",
  "page-annotations",
]);

/**
 * Compares the document as signed (its first `signedLength` bytes) with the whole file. A coarse
 * check by object kind, not a full DocMDP/FieldMDP diff: an added signature, widget, /DSS or
 * time-stamp is fine; a changed page content, font or any other object is reported.
 */
export async function laterChanges(full: PdfDocument, signedLength: number): Promise<LaterChanges> {
  const before = await openRevision(full.source, signedLength);
  const previous = new Map(before.liveObjectEntries().map(({ num, entry }) => [num, entryKey(entry)]));
  const changed = full.liveObjectEntries().filter(({ num, entry }) => previous.get(num) !== entryKey(entry));

  const catalog = await full.catalog();
  const formValue = catalog.get("AcroForm");
  const context = {
    dssObjects: await reachable(full, catalog.get("DSS")),
    formNum: formValue instanceof PdfRef ? formValue.num : undefined,
    catalogNum: full.catalogRef.num,
  };
  const kinds: Record<string, number> = {};
  const otherObjects: number[] = [];
  for (const { num } of changed) {
    const kind = await classify(num, before, full, context);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    if (!ALLOWED_KINDS.has(kind)) otherObjects.push(num);
  }
  return {
    changedObjects: changed.length,
    kinds,
    onlySignatureAndLtvUpdates: otherObjects.length === 0,
    otherObjects,
  };
}
