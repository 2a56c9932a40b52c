/**
 * What a visible signature costs over an invisible one: `pnpm bench:appearance [--rounds 40]`.
 * Prepares the same signature revision (local key, B-B) with and without a seal (default font
 * subset with Latin and CJK text, plus a PNG stamp with alpha), alternating, in one warm process;
 * reports the added time (median, p95) and the added bytes. First use (font and wasm loading) and a
 * text-anchor search are reported apart. Writes bench/out/appearance/report.md and prints it.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { VisibleSignatureOptions } from "@esign/appearance";
import { createTestPki } from "@esign/pades/testing";
import { BufferSource } from "@esign/pdf";
import { prepare } from "@esign/pipeline";
import { CmsBuildingSigner, LocalKeyProvider } from "@esign/signers";
import { REPO_ROOT } from "@esign/testkit";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "40" } } });
const rounds = Number(values.rounds);
const fixtures = join(REPO_ROOT, "packages/appearance/test/fixtures");
const input = new BufferSource(await readFile(join(fixtures, "gs-contract.pdf")));
const stamp = await readFile(join(fixtures, "stamp.png"));
const pki = await createTestPki();
const signer = new CmsBuildingSigner({
  provider: new LocalKeyProvider({
    privateKey: pki.signer.privateKey,
    certificate: pki.signer.certificate,
    chain: pki.signer.chain,
    signatureAlgorithm: pki.signer.signatureAlgorithm,
  }),
});

const seal: VisibleSignatureOptions = {
  placement: { kind: "rect", page: 2, rect: [300, 150, 540, 230] },
  text: "Digitally signed by {name}\n签名：张三（人事部）\nDate: {date}\nReason: {reason}",
  image: stamp,
};
const field = { reason: "Approved", location: "Berlin" };

async function timed(appearance: VisibleSignatureOptions | undefined, signerName?: string) {
  const start = performance.now();
  const prepared = await prepare(input, signer, {
    level: "B-B",
    field: { ...field, name: signerName },
    contentsSize: 8192,
    appearance,
  });
  return { ms: performance.now() - start, bytes: Buffer.from(prepared.revision, "base64").length };
}

const cold = await timed(seal);
const anchored = {
  ...seal,
  placement: { kind: "anchor" as const, text: "{{seal}}", size: [240, 80] as [number, number] },
};
const anchorCold = await timed(anchored);
const anchorWarm = await timed(anchored);

const invisible: number[] = [];
const visible: number[] = [];
const fresh: number[] = [];
let invisibleBytes = 0;
let visibleBytes = 0;
for (let round = 0; round < rounds; round++) {
  const plain = await timed(undefined);
  const sealed = await timed(seal);
  // A name with a character no seal had before: a new subset (the cache misses).
  const newName = await timed(seal, `张${String.fromCodePoint(0x4e00 + 37 * round)}`);
  invisible.push(plain.ms);
  visible.push(sealed.ms);
  fresh.push(newName.ms - plain.ms);
  invisibleBytes = plain.bytes;
  visibleBytes = sealed.bytes;
}

const quantile = (samples: number[], q: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const added = visible.map((ms, index) => ms - invisible[index]!);
const ms = (value: number) => value.toFixed(1);
const report = [
  `Appearance benchmark: ${rounds} rounds, ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load ${loadavg()[0]!.toFixed(2)} at the end`,
  "",
  "| what | median | p95 |",
  "|---|---|---|",
  `| prepare, invisible signature | ${ms(quantile(invisible, 0.5))} ms | ${ms(quantile(invisible, 0.95))} ms |`,
  `| prepare, visible seal (text + PNG, rect) | ${ms(quantile(visible, 0.5))} ms | ${ms(quantile(visible, 0.95))} ms |`,
  `| **added by the appearance** (same signer: font subset reused) | **${ms(quantile(added, 0.5))} ms** | **${ms(quantile(added, 0.95))} ms** |`,
  `| **added by the appearance** (a new character each time: new subset) | **${ms(quantile(fresh, 0.5))} ms** | **${ms(quantile(fresh, 0.95))} ms** |`,
  "",
  `| bytes | invisible revision | visible revision | added |`,
  "|---|---|---|---|",
  `| signature revision (placeholder of 8192 bytes included) | ${invisibleBytes} | ${visibleBytes} | **${visibleBytes - invisibleBytes}** |`,
  "",
  `First visible signature of a process (font file read, HarfBuzz wasm compiled, first subset): ${ms(cold.ms)} ms.`,
  `Visible signature placed by a text anchor (pdf.js reads the text of the 3-page file): ${ms(anchorCold.ms)} ms the first time (pdf.js loaded), ${ms(anchorWarm.ms)} ms after.`,
  "",
].join("\n");

const outDirectory = join(import.meta.dirname, "out", "appearance");
await mkdir(outDirectory, { recursive: true });
await writeFile(join(outDirectory, "report.md"), report);
process.stdout.write(report);
