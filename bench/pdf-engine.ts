/**
 * PDF-engine benchmark: our signPdf against @signpdf (placeholder-pdf-lib and placeholder-plain,
 * with its P12Signer) on the same files, each run in its own process for a true peak RSS.
 * `pnpm bench:pdf [--inputs 1-page,1000-pages,xref-stream,300mb] [--variants esign,esign-bundled,...]`
 * Writes bench/out/pdf-engine/report.md and prints it.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createTestPki, writeTestPki } from "@esign/pades/testing";
import { validate } from "@esign/testkit";
import { bundleRunOne } from "./pdf-engine/bundle";
import { type BenchInput, ensureInputs } from "./pdf-engine/inputs";
import { type Cell, markdownTable, speedups, warmTable } from "./pdf-engine/report";
import { type Runtime, runInChild } from "./pdf-engine/runner";
import { VARIANTS, type Variant } from "./pdf-engine/variants";

const TIMEOUT_MS = 10 * 60_000;
const MAX_OLD_SPACE_MIB = 8192;
const PASSWORD = "bench-password";

const { values } = parseArgs({ options: { inputs: { type: "string" }, variants: { type: "string" } } });
const variants = selected(VARIANTS, values.variants, "variant");

const outDirectory = join(import.meta.dirname, "out", "pdf-engine");
const signedDirectory = join(outDirectory, "signed");
await mkdir(signedDirectory, { recursive: true });
const pki = await writeTestPki(await createTestPki(), join(outDirectory, "pki"), PASSWORD);
const inputs = selected(await ensureInputs(join(outDirectory, "inputs")), values.inputs, "input");
// In the temporary directory: generated JavaScript is no business of the linter's.
const bundleDirectory = await mkdtemp(join(tmpdir(), "esign-bench-"));
const bundledEntry = variants.some((variant) => variant.runtime === "bundled")
  ? await bundleRunOne(bundleDirectory)
  : "";
const loadAtStart = loadavg()[0]!;

const cells: Cell[] = [];
try {
  for (const input of inputs) {
    for (const variant of variants) cells.push(await benchmark(variant, input));
  }
} finally {
  await rm(bundleDirectory, { recursive: true, force: true });
}

function selected<T extends { id: string }>(all: T[], wanted: string | undefined, what: string): T[] {
  if (!wanted) return all;
  return wanted.split(",").map((id) => {
    const found = all.find((item) => item.id === id);
    if (!found) throw new Error(`unknown ${what} ${id}; known: ${all.map((item) => item.id).join(", ")}`);
    return found;
  });
}

async function benchmark(variant: Variant, input: BenchInput): Promise<Cell> {
  const output = join(signedDirectory, `${input.id}.${variant.id}.pdf`);
  await rm(output, { force: true });
  const runtime: Runtime =
    variant.runtime === "tsx" ? { kind: "tsx" } : { kind: "bundled", entry: bundledEntry };
  const run = (repeat: number) =>
    runInChild({
      tool: variant.tool,
      runtime,
      input: input.path,
      output,
      p12Path: pki.p12,
      password: PASSWORD,
      timeoutMs: TIMEOUT_MS,
      maxOldSpaceMiB: MAX_OLD_SPACE_MIB,
      repeat,
    });
  const cell: Cell = { variant, input, outcomes: [] };
  for (let index = 1; index <= input.runs; index++) {
    const outcome = await run(1);
    cell.outcomes.push(outcome);
    console.error(`${input.id} ${variant.id} run ${index}/${input.runs}: ${JSON.stringify(outcome)}`);
    // A failure or a timeout repeats identically; one is the finding.
    if (outcome.kind !== "ok") return cell;
  }
  cell.validation = await validate(output, pki.rootPem);
  // The warm figures are about the engine in a long-running worker; tsx or not makes no difference there.
  if (input.warmRepeats && variant.runtime === "tsx") {
    const outcome = await run(input.warmRepeats);
    console.error(`${input.id} ${variant.id} warm: ${JSON.stringify(outcome)}`);
    cell.warm = outcome.kind === "ok" ? outcome.warm : outcome;
  }
  return cell;
}

const load = `load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`;
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, ${load}`;
const report = [
  `Machine: ${machine}. Children: \`node --max-old-space-size=${MAX_OLD_SPACE_MIB}\`, timeout ${TIMEOUT_MS / 60_000} min.`,
  "",
  markdownTable(cells),
  "",
  ...speedups(cells, "cold").map((line) => `- ${line}`),
  "",
  "Warm process: the same document signed again in the process of the first signing, median of the later signings.",
  "",
  warmTable(cells),
  "",
  ...speedups(cells, "warm").map((line) => `- ${line}`),
].join("\n");
await writeFile(join(outDirectory, "report.md"), `${report}\n`);
console.log(report);
