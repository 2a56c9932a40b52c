import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run, scratchDir } from "./helpers";

const PAGE_COUNT = 300;
const CONTENT_BYTES = 1024 * 1024; // 300 pages x 1 MiB content streams: a ~300 MB file

/** Writes a ~300 MB PDF without holding it in memory: big uncompressed page content streams. */
async function writeLargePdf(path: string): Promise<number> {
  const file = createWriteStream(path);
  let offset = 0;
  const offsets: number[] = [];
  const write = async (chunk: string | Buffer) => {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
    offset += bytes.length;
    if (!file.write(bytes)) await once(file, "drain");
  };
  const object = async (num: number, body: string | Buffer[]) => {
    offsets[num] = offset;
    await write(`${num} 0 obj\n`);
    if (typeof body === "string") await write(body);
    else for (const part of body) await write(part);
    await write("\nendobj\n");
  };
  await write("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
  const kids = Array.from({ length: PAGE_COUNT }, (_, i) => `${3 + 2 * i} 0 R`).join(" ");
  await object(1, "<< /Type /Catalog /Pages 2 0 R >>");
  await object(2, `<< /Type /Pages /Kids [${kids}] /Count ${PAGE_COUNT} /MediaBox [0 0 612 792] >>`);
  const line = Buffer.from("0.5 0.5 0.5 rg 10 10 100 100 re f % filler to make a large page\n", "latin1");
  const content = Buffer.alloc(CONTENT_BYTES);
  for (let i = 0; i + line.length <= content.length; i += line.length) line.copy(content, i);
  content.fill(0x20, Math.floor(content.length / line.length) * line.length);
  for (let i = 0; i < PAGE_COUNT; i++) {
    await object(3 + 2 * i, `<< /Type /Page /Parent 2 0 R /Contents ${4 + 2 * i} 0 R >>`);
    await object(4 + 2 * i, [
      Buffer.from(`<< /Length ${content.length} >>\nstream\n`),
      content,
      Buffer.from("\nendstream"),
    ]);
  }
  const size = 3 + 2 * PAGE_COUNT;
  const xrefAt = offset;
  let xref = `xref\n0 ${size}\n0000000000 65535 f\r\n`;
  for (let num = 1; num < size; num++) xref += `${String(offsets[num]).padStart(10, "0")} 00000 n\r\n`;
  await write(`${xref}trailer\n<< /Size ${size} /Root 1 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`);
  file.end();
  await once(file, "finish");
  return offset;
}

async function sha256OfRanges(path: string, ranges: Array<[number, number]>): Promise<string> {
  const hash = createHash("sha256");
  for (const [start, length] of ranges) {
    if (length === 0) continue;
    for await (const chunk of createReadStream(path, { start, end: start + length - 1 })) hash.update(chunk);
  }
  return hash.digest("hex");
}

describe("large files", () => {
  const dir = scratchDir("esign-pdf-large-");

  it("signs a 300 MB file from disk with bounded memory", async () => {
    const input = join(dir, "large.pdf");
    const output = join(dir, "large-signed.pdf");
    const inputSize = await writeLargePdf(input);
    expect(inputSize).toBeGreaterThan(300 * 1000 * 1000);

    const child = new URL("./large-file-child.ts", import.meta.url).pathname;
    const { stdout } = await run("node", ["--import", "tsx", child, input, output], {
      maxBuffer: 1024 * 1024,
    });
    const report = JSON.parse(stdout) as {
      pages: number;
      signed: number;
      bytesReadToPrepare: number;
      digest: string;
      byteRange: [number, number, number, number];
      signedLength: number;
      baselineRssBytes: number;
      maxRssBytes: number;
    };
    expect(report.pages).toBe(PAGE_COUNT);
    expect(report.signed).toBe(1);
    expect(statSync(output).size).toBe(report.signedLength);
    const [, a, b, c] = report.byteRange;
    expect(report.digest).toBe(
      await sha256OfRanges(output, [
        [0, a],
        [b, c],
      ]),
    );
    expect(await sha256OfRanges(output, [[0, inputSize]])).toBe(
      await sha256OfRanges(input, [[0, inputSize]]),
    );
    console.log(`large-file: RSS ${report.baselineRssBytes} before, ${report.maxRssBytes} at peak`);
    // A 300 MB file signed in well under a fifth of its size: reads are windowed, not buffered.
    expect(report.maxRssBytes - report.baselineRssBytes).toBeLessThan(56 * 1024 * 1024);
    // Opening and preparing read the tail, the xref and a few objects, not the content streams.
    expect(report.bytesReadToPrepare).toBeLessThan(2 * 1024 * 1024);
  });
});
