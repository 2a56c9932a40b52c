import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ByteSource, FileSource, openPdf } from "@esign/pdf";
import { SAMPLES_DIR } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockCachedSource, S3Store } from "../src";
import { type RunningS3, startS3 } from "./s3-server";

/** Counts the reads the PDF reader makes, passing them on unchanged. */
function counting(source: ByteSource): { source: ByteSource; reads: () => number } {
  let reads = 0;
  return {
    source: {
      size: source.size,
      read: (offset, length) => {
        reads += 1;
        return source.read(offset, length);
      },
    },
    reads: () => reads,
  };
}

describe("the PDF reader over S3", () => {
  let s3: RunningS3;
  let store: S3Store;
  beforeAll(async () => {
    s3 = await startS3();
    store = new S3Store("s3", s3.config());
  });
  afterAll(async () => {
    await store.close();
    await s3.stop();
  });

  it("parses a real signed PDF with a handful of range requests", async () => {
    const path = join(SAMPLES_DIR, "already-signed-poppler.pdf");
    await store.write("samples/already-signed.pdf", [await readFile(path)]);

    const remote = await store.openSource("samples/already-signed.pdf");
    expect(remote).toBeInstanceOf(BlockCachedSource);
    const counted = counting(remote);
    const viaS3 = await openPdf(counted.source);
    const local = await FileSource.open(path);
    const viaFile = await openPdf(local);

    expect(await viaS3.pageCount()).toBe(await viaFile.pageCount());
    const requests = (remote as BlockCachedSource).stats.requests;
    // The reader makes many small reads; whole blocks serve them (the file spans three 256 KiB blocks).
    expect(counted.reads()).toBeGreaterThan(requests);
    expect(requests).toBeLessThanOrEqual(3);
    await local.close();
  });
});
