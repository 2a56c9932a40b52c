import type { ValidateResult } from "@esign/testkit";
import type { BenchInput } from "./inputs";
import type { Timing } from "./run-result";
import type { RunOutcome } from "./runner";
import { median } from "./stats";
import type { Variant } from "./variants";

export interface Cell {
  variant: Variant;
  input: BenchInput;
  outcomes: RunOutcome[];
  /** validate.sh on the last output, when every run succeeded. */
  validation?: ValidateResult;
  /** Medians of repeated signings in one process, or why that process failed. */
  warm?: Timing | Unsuccessful;
}

type Succeeded = Extract<RunOutcome, { kind: "ok" }>;
type Unsuccessful = Exclude<RunOutcome, Succeeded>;
type Mode = "cold" | "warm";

function succeeded(cell: Cell): Succeeded[] {
  return cell.outcomes.filter((outcome): outcome is Succeeded => outcome.kind === "ok");
}

/** Median over the successful runs of wall clock (`ms`) or CPU time (`cpuMs`). */
export function medianOf(cell: Cell, measure: "ms" | "cpuMs"): number | undefined {
  const runs = succeeded(cell);
  return runs.length ? median(runs.map((run) => run[measure])) : undefined;
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
  const time = medianOf(cell, "ms");
  const cpu = medianOf(cell, "cpuMs");
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
    cpu === undefined ? "–" : formatMs(cpu),
    runs.length ? formatMiB(Math.max(...runs.map((run) => run.peakRssKiB))) : "–",
    validity(cell),
    notes.join("; "),
  ].join(" | ");
}

/** The Markdown table: one row per variant and input; peak RSS is the highest over the runs. */
export function markdownTable(cells: Cell[]): string {
  return [
    "| tool | input | median time per document | its CPU time | peak RSS | output valid? | notes |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...cells.map((cell) => `| ${row(cell)} |`),
  ].join("\n");
}

function warmTiming(cell: Cell): Timing | undefined {
  return cell.warm && !("kind" in cell.warm) ? cell.warm : undefined;
}

function timingOf(cell: Cell, mode: Mode, measure: "ms" | "cpuMs"): number | undefined {
  return mode === "cold" ? medianOf(cell, measure) : warmTiming(cell)?.[measure];
}

/** Repeated signings in one process: what a long-running worker pays per document. */
export function warmTable(cells: Cell[]): string {
  const rows = cells.flatMap((cell) => {
    if (!cell.warm) return [];
    const timing = warmTiming(cell);
    const result = timing
      ? [formatMs(timing.ms), formatMs(timing.cpuMs), ""]
      : ["–", "–", failureNote(cell.warm as Unsuccessful)];
    return [`| ${[cell.variant.label, cell.input.label, ...result].join(" | ")} |`];
  });
  return [
    "| tool | input | median time per document, warm | its CPU time | notes |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

function ratio(theirs: Cell, ours: Cell, mode: Mode, measure: "ms" | "cpuMs"): string {
  const oursValue = timingOf(ours, mode, measure);
  const theirsValue = timingOf(theirs, mode, measure);
  return oursValue && theirsValue ? `${(theirsValue / oursValue).toFixed(1)}x` : "n/a";
}

/** How many times faster our medians (as the project runs, under tsx) are than each @signpdf tool's. */
export function speedups(cells: Cell[], mode: Mode): string[] {
  const lines: string[] = [];
  for (const ours of cells.filter((cell) => cell.variant.id === "esign")) {
    for (const theirs of cells.filter((cell) => cell.input === ours.input && cell.variant.tool !== "esign")) {
      if (timingOf(theirs, mode, "ms") === undefined) continue;
      const wall = ratio(theirs, ours, mode, "ms");
      const cpu = ratio(theirs, ours, mode, "cpuMs");
      lines.push(
        `${mode}, ${ours.input.label}: ${wall} faster (wall clock), ${cpu} less CPU than ${theirs.variant.label}`,
      );
    }
  }
  return lines;
}
