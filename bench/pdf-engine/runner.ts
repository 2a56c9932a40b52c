import { spawn } from "node:child_process";
import { join } from "node:path";
import type { ChildReport, Timing } from "./run-result";
import type { ToolName } from "./tools/index";

export type RunOutcome =
  | ({ kind: "ok"; keyMs: number; peakRssKiB: number; loadedRssKiB: number; warm?: Timing } & Timing)
  | { kind: "failed"; message: string }
  | { kind: "timeout"; afterMs: number };

/**
 * How the child is started: the way the project runs (`node --import tsx` on the TypeScript
 * sources) or as a plain-JavaScript bundle on `node` alone.
 */
export type Runtime = { kind: "tsx" } | { kind: "bundled"; entry: string };

export interface RunRequest {
  tool: ToolName;
  runtime: Runtime;
  input: string;
  output: string;
  p12Path: string;
  password: string;
  timeoutMs: number;
  /** Sign the document this many times in the one process (the later ones measure a warm worker). */
  repeat: number;
  /** V8 old-space limit for the child, large enough that a tool fails on its own limits, not ours. */
  maxOldSpaceMiB: number;
}

const RUN_ONE = join(import.meta.dirname, "run-one.ts");

/** Runs one tool on one file in a fresh node process and reads the child's report line. */
export function runInChild(request: RunRequest): Promise<RunOutcome> {
  const entry = request.runtime.kind === "tsx" ? ["--import", "tsx", RUN_ONE] : [request.runtime.entry];
  const args = [
    `--max-old-space-size=${request.maxOldSpaceMiB}`,
    ...entry,
    request.tool,
    request.input,
    request.output,
    request.p12Path,
    request.password,
    String(request.repeat),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, request.timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ kind: "timeout", afterMs: request.timeoutMs });
      const line = stdout.trim().split("\n").at(-1);
      if (line?.startsWith("{")) return resolve(fromReport(JSON.parse(line) as ChildReport));
      resolve({ kind: "failed", message: `exit ${signal ?? code}: ${crashReason(stderr)}` });
    });
  });
}

function fromReport(report: ChildReport): RunOutcome {
  if (!report.ok) return { kind: "failed", message: report.error };
  const { ok: _ok, ...measured } = report;
  return { kind: "ok", ...measured };
}

/** The line that says why a child died (V8's "FATAL ERROR: ... heap out of memory", a throw). */
function crashReason(stderr: string): string {
  const lines = stderr.split("\n").map((line) => line.trim());
  return (
    lines.find((line) => line.startsWith("FATAL ERROR")) ??
    lines.find((line) => /Error\b/.test(line)) ??
    lines.filter(Boolean).at(-1) ??
    "no output"
  );
}
