import { forEachChunk, parseAt } from "../io/io";
import type { ByteSource } from "../io/source";
import { PdfDict, PdfRef, type PdfStream } from "../syntax/objects";
import { corrupt, limitExceeded, type PdfLimits } from "./limits";
import { decodeObjectStream } from "./objstm";
import { ENTRY_COMPRESSED, ENTRY_IN_FILE, readStreamObjectAt, XrefTable } from "./xref";

const OBJECT_HEADER = /(?<![0-9])(\d{1,10})[\0\t\n\f\r ]+(\d{1,5})[\0\t\n\f\r ]+obj(?![A-Za-z0-9])/g;
const MARKERS = /trailer[\0\t\n\f\r ]*<<|\/Type[\0\t\n\f\r ]*\/(XRef|ObjStm|Catalog)(?![A-Za-z0-9])/g;

/** Decrypts a stream's stored data (encrypted documents). */
export type StreamDecrypter = (ref: PdfRef, stream: PdfStream, data: Uint8Array) => Uint8Array;

/**
 * Rebuilds the cross-reference of a damaged file by scanning it, in bounded chunks, for
 * `N G obj` headers (later definitions win), then reading the object streams it found
 * (decrypted with `decrypt` when the document is encrypted and already unlocked).
 */
export async function recoverXref(
  source: ByteSource,
  limits: PdfLimits,
  decrypt?: StreamDecrypter,
): Promise<{ table: XrefTable; trailer: PdfDict }> {
  const table = new XrefTable(limits.maxObjects);
  const trailers: number[] = [];
  const candidates = { XRef: [] as number[], ObjStm: [] as number[], Catalog: [] as number[] };
  let lastHeader = -1;
  let recorded = 0;
  await forEachChunk(source, 64, (chunk, chunkStart) => {
    const text = chunk.toString("latin1");
    // Walk headers and markers in file order so each marker belongs to the object before it.
    const events: Array<[number, () => void]> = [];
    for (const match of text.matchAll(OBJECT_HEADER)) {
      const offset = chunkStart + match.index;
      events.push([
        offset,
        () => {
          if (offset <= lastHeader) return; // seen already in the previous chunk's overlap
          if (++recorded > limits.maxRecoveredObjects) throw limitExceeded("too many objects to recover");
          table.set(Number(match[1]), ENTRY_IN_FILE, offset, Number(match[2]));
          lastHeader = offset;
        },
      ]);
    }
    for (const match of text.matchAll(MARKERS)) {
      const offset = chunkStart + match.index;
      events.push([
        offset,
        () => {
          if (match[1] === undefined) {
            if (!trailers.includes(offset)) trailers.push(offset);
          } else if (lastHeader >= 0) {
            const list = candidates[match[1] as keyof typeof candidates];
            if (list.at(-1) !== lastHeader) list.push(lastHeader);
          }
        },
      ]);
    }
    events.sort((a, b) => a[0] - b[0]);
    for (const [, apply] of events) apply();
  });

  await addObjectStreamMembers(source, table, candidates.ObjStm, limits, decrypt);
  const trailer = await chooseTrailer(source, table, trailers, candidates, limits);
  return { table, trailer };
}

async function addObjectStreamMembers(
  source: ByteSource,
  table: XrefTable,
  streamOffsets: number[],
  limits: PdfLimits,
  decrypt: StreamDecrypter | undefined,
): Promise<void> {
  for (const offset of streamOffsets) {
    try {
      const stream = await readStreamObjectAt(source, offset, limits);
      const header = await parseAt(source, offset, 64, 2, (parser) => {
        const num = parser.tryUnsigned();
        return num === undefined ? undefined : new PdfRef(num, parser.tryUnsigned() ?? 0);
      });
      const { members } = await decodeObjectStream(source, stream, limits, (data) =>
        decrypt && header ? decrypt(header, stream, data) : data,
      );
      members.forEach(([num], index) => {
        const existing = table.get(num);
        // A plain definition after the object stream is a newer revision of the object.
        if (existing?.kind === ENTRY_IN_FILE && existing.offset > offset) return;
        table.set(num, ENTRY_COMPRESSED, header!.num, index);
      });
    } catch (error) {
      if ((error as { code?: string }).code === "E_PDF_LIMIT") throw error;
      // A damaged object stream loses only its own members.
    }
  }
}

/**
 * The newest trailer (or xref stream dictionary) with a /Root. A /Root that does not lead to
 * an object the scan saw as a catalog (damaged reference) is replaced by the last catalog found.
 */
async function chooseTrailer(
  source: ByteSource,
  table: XrefTable,
  trailers: number[],
  candidates: { XRef: number[]; Catalog: number[] },
  limits: PdfLimits,
): Promise<PdfDict> {
  const lastCatalogOffset = candidates.Catalog.at(-1);
  const lastCatalog =
    lastCatalogOffset === undefined
      ? undefined
      : await parseAt(source, lastCatalogOffset, 64, 2, (parser) => {
          const num = parser.tryUnsigned();
          return num === undefined ? undefined : new PdfRef(num, parser.tryUnsigned() ?? 0);
        });
  const trailer = await newestTrailerWithRoot(source, trailers, candidates.XRef, limits);
  if (!trailer) {
    if (lastCatalog) return PdfDict.of({ Root: lastCatalog });
    throw corrupt("the cross-reference is damaged and no document catalog could be found");
  }
  const entry = table.get((trailer.get("Root") as PdfRef).num);
  const rootLooksRight =
    entry?.kind === ENTRY_COMPRESSED ||
    (entry?.kind === ENTRY_IN_FILE && candidates.Catalog.includes(entry.offset));
  if (!rootLooksRight && lastCatalog) trailer.set("Root", lastCatalog);
  return trailer;
}

async function newestTrailerWithRoot(
  source: ByteSource,
  trailers: number[],
  xrefStreams: number[],
  limits: PdfLimits,
): Promise<PdfDict | undefined> {
  for (const offset of trailers.toReversed()) {
    const dict = await parseAt(source, offset, limits.maxObjectBytes, limits.maxNestingDepth, (parser) => {
      parser.expectKeyword("trailer");
      return parser.parseObject();
    }).catch(() => undefined);
    if (dict instanceof PdfDict && dict.get("Root") instanceof PdfRef) return dict;
  }
  for (const offset of xrefStreams.toReversed()) {
    const stream = await readStreamObjectAt(source, offset, limits).catch(() => undefined);
    if (stream?.dict.get("Root") instanceof PdfRef) return stream.dict.clone();
  }
  return undefined;
}
