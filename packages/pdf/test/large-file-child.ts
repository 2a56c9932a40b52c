/**
 * Signs a large PDF from a FileSource in a separate process and reports peak RSS, so the
 * parent test can check that memory does not grow with the file size.
 * Usage: tsx large-file-child.ts INPUT.pdf OUTPUT.pdf
 */
import { type ByteSource, FileSource, openPdf, prepareSignature, signatureFields } from "../src";

/** Counts the bytes the reader asks for, to show that opening and preparing read only a little. */
class CountingSource implements ByteSource {
  bytesRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get size(): number {
    return this.inner.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const bytes = await this.inner.read(offset, length);
    this.bytesRead += bytes.length;
    return bytes;
  }
}

const [input, output] = process.argv.slice(2) as [string, string];
// What the process holds before the file is touched (node, the tsx loader, this package): the
// parent bounds the growth over it, which is what must not depend on the file's size.
const baselineRssBytes = process.resourceUsage().maxRSS * 1024;
const file = await FileSource.open(input);
const source = new CountingSource(file);
const doc = await openPdf(source);
const pages = await doc.pageCount();
const prepared = await prepareSignature(doc, { contentsSize: 16384, reason: "large file" });
const bytesReadToPrepare = source.bytesRead;
const digest = await prepared.digest("sha256");
const revision = prepared.embed(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]));
await prepared.writeTo(revision, output);
const reopened = await openPdf(prepared.output(revision));
const signed = (await signatureFields(reopened)).filter((field) => field.signed).length;
await file.close();
process.stdout.write(
  JSON.stringify({
    pages,
    signed,
    bytesReadToPrepare,
    digest: digest.toString("hex"),
    byteRange: prepared.byteRange,
    signedLength: prepared.signedLength,
    baselineRssBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
);
