/**
 * Signs a large PDF from a FileSource in a separate process and reports peak RSS, so the
 * parent test can check that memory does not grow with the file size.
 * Usage: tsx large-file-child.ts INPUT.pdf OUTPUT.pdf
 */
import { FileSource, openPdf, prepareSignature, signatureFields } from "../src";

const [input, output] = process.argv.slice(2) as [string, string];
const source = await FileSource.open(input);
const doc = await openPdf(source);
const pages = await doc.pageCount();
const prepared = await prepareSignature(doc, { contentsSize: 16384, reason: "large file" });
const digest = await prepared.digest("sha256");
const revision = prepared.embed(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]));
await prepared.writeTo(revision, output);
const reopened = await openPdf(prepared.output(revision));
const signed = (await signatureFields(reopened)).filter((field) => field.signed).length;
await source.close();
process.stdout.write(
  JSON.stringify({
    pages,
    signed,
    digest: digest.toString("hex"),
    byteRange: prepared.byteRange,
    signedLength: prepared.signedLength,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
);
