import type { ValidateResult } from "@esign/testkit";
import type { BenchInput } from "./inputs";
import type { RunOutcome } from "./runner";
import type { Variant } from "./variants";

export interface Cell {
  variant: Variant;
  input: BenchInput;
  outcomes: RunOutcome[];
  /** validate.sh on the last output, when a run succeeded. */
  validation?: ValidateResult;
}

type Succeeded = Extract<RunOutcome, { kind: "ok" }>;
type Unsuccessful = Exclude<RunOutcome, Succeeded>;

function succeeded(cell: Cell): Succeeded[] {
  return cell.outcomes.filter((outcome): outcome is Succeeded => outcome.kind === "ok");
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function medianMs(cell: Cell): number | undefined {
  const runs = succeeded(cell);
  return runs.length ? median(runs.map((run) => run.ms)) : undefined;
}

function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function formatMiB(kib: number): string {
  return `${Math.round(kib / 1024)} MiB`;
}

function failureNote(outcome: Unsuccessful): string {
  const text =
    outcome.kind === "timeout" ? `timeout after ${formatMs(outcome.afterMs)}` : `failed: ${outcome.message}`;
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function validity(cell: Cell): string {
  if (!cell.validation) return "–";
  return cell.validation.ok ? "yes" : `**no** (${cell.validation.failures.join(", ")})`;
}

function row(cell: Cell): string {
  const runs = succeeded(cell);
  const failures = cell.outcomes.filter((outcome): outcome is Unsuccessful => outcome.kind !== "ok");
  const time = medianMs(cell);
  const notes = [
    runs.length
      ? `runs: ${runs.map((run) => formatMs(run.ms)).join(", ")}; key load ${formatMs(median(runs.map((run) => run.keyMs)))}; ${formatMiB(Math.max(...runs.map((run) => run.loadedRssKiB)))} after loading modules`
      : "",
    ...new Set(failures.map(failureNote)),
  ].filter(Boolean);
  return [
    cell.variant.label,
    cell.input.label,
    time === undefined ? "–" : formatMs(time),
    runs.length ? formatMiB(Math.max(...runs.map((run) => run.peakRssKiB))) : "–",
    validity(cell),
    notes.join("; "),
  ].join(" | ");
}

/** The Markdown table: one row per variant and input; peak RSS is the highest over the runs. */
export function markdownTable(cells: Cell[]): string {
  return [
    "| tool | input | median time per document | peak RSS | output valid? | notes |",
    "| --- | --- | --- | --- | --- | --- |",
    ...cells.map((cell) => `| ${row(cell)} |`),
  ].join("\n");
}

/** How many times faster our median (as the project runs, under tsx) is than each @signpdf tool's. */
export function speedups(cells: Cell[]): string[] {
  const lines: string[] = [];
  for (const ours of cells.filter((cell) => cell.variant.id === "esign")) {
    const oursMs = medianMs(ours);
    for (const theirs of cells.filter((cell) => cell.input === ours.input && cell.variant.tool !== "esign")) {
      const theirsMs = medianMs(theirs);
      if (oursMs === undefined || theirsMs === undefined) continue;
      lines.push(
        `${ours.input.label}: ${(theirsMs / oursMs).toFixed(1)}x faster than ${theirs.variant.label}`,
      );
    }
  }
  return lines;
}
