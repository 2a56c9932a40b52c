import { type ByteSource, type OpenOptions, openPdf, type PdfDocument } from "@esign/pdf";

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

export function openRevision(
  source: ByteSource,
  length: number,
  options?: OpenOptions,
): Promise<PdfDocument> {
  return openPdf(new PrefixSource(source, length), options);
}

const EOF_MARKER = Buffer.from("%%EOF");
const SCAN_CHUNK = 1 << 20;

/**
 * Where each revision of a file ends: after every `%%EOF` (and its end-of-line) whose prefix opens
 * as a PDF through its own xref chain, and the end of the file. A `%%EOF` inside a stream, or the
 * first-page section of a linearized file, does not open cleanly and is not a revision.
 */
export async function revisionEnds(source: ByteSource, options?: OpenOptions): Promise<number[]> {
  const candidates: number[] = [];
  for (let offset = 0; offset < source.size; offset += SCAN_CHUNK) {
    // Overlap by the marker length so a marker across two chunks is found once.
    const start = Math.max(0, offset - EOF_MARKER.length + 1);
    const chunk = Buffer.from(
      await source.read(start, Math.min(SCAN_CHUNK + offset - start, source.size - start)),
    );
    for (let at = chunk.indexOf(EOF_MARKER); at >= 0; at = chunk.indexOf(EOF_MARKER, at + 1)) {
      let end = start + at + EOF_MARKER.length;
      const tail = await source.read(end, 2);
      if (tail[0] === 0x0d) end += tail[1] === 0x0a ? 2 : 1;
      else if (tail[0] === 0x0a) end += 1;
      if (end < source.size && !candidates.includes(end)) candidates.push(end);
    }
  }
  const ends: number[] = [];
  for (const end of candidates) {
    const revision = await openRevision(source, end, options).catch(() => undefined);
    if (revision && !revision.recovered) ends.push(end);
  }
  ends.push(source.size);
  return ends;
}
