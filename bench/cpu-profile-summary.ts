/**
 * Where the CPU time of a `node --cpu-prof` profile of a bundle went, by source file (through the
 * bundle's source map) and by function: self time, and time including callees per source file.
 *
 *   pnpm exec tsx bench/cpu-profile-summary.ts PROFILE.cpuprofile [--top 40] [--jobs 320]
 *
 * `--jobs N` adds a column of milliseconds per job (the profile's job count, warm-up included).
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "40" }, jobs: { type: "string" } },
});
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as Profile;
const jobs = values.jobs ? Number(values.jobs) : undefined;

const maps = new Map<string, SourceMap | undefined>();
function sourceMapOf(url: string): SourceMap | undefined {
  if (!maps.has(url)) {
    try {
      const path = url.startsWith("file:") ? fileURLToPath(url) : url;
      maps.set(url, new SourceMap(JSON.parse(readFileSync(`${path}.map`, "utf8"))));
    } catch {
      maps.set(url, undefined);
    }
  }
  return maps.get(url);
}

/** A short name for where a frame's code lives: package/file for our code, the package for dependencies. */
function placeOf(node: ProfileNode): string {
  const { url, lineNumber, columnNumber, functionName } = node.callFrame;
  if (functionName === "(garbage collector)") return "(gc)";
  if (functionName === "(idle)" || functionName === "(program)" || functionName === "(root)")
    return functionName;
  if (!url) return "(native)";
  let file = url;
  const entry = sourceMapOf(url)?.findEntry(lineNumber, columnNumber);
  if (entry && "originalSource" in entry && entry.originalSource) file = entry.originalSource;
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (dependency) return `dep:${dependency[1]}`;
  if (file.startsWith("node:")) return file;
  const ours = /(packages|services)\/([^/]+)\/src\/(.+)$/.exec(file);
  return ours ? `${ours[2]}/${ours[3]}` : file.replace(/^.*\//, "");
}

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const selfTime = new Map<number, number>();
for (let index = 0; index < profile.samples.length; index++) {
  const id = profile.samples[index]!;
  selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
}
const total = [...selfTime.values()].reduce((sum, value) => sum + value, 0);
const idle = [...selfTime].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)");
const idleMs = idle.reduce((sum, [, ms]) => sum + ms, 0);

const selfByPlace = new Map<string, number>();
const selfByFunction = new Map<string, number>();
const inclusiveByPlace = new Map<string, number>();
for (const [id, ms] of selfTime) {
  const node = byId.get(id)!;
  const place = placeOf(node);
  selfByPlace.set(place, (selfByPlace.get(place) ?? 0) + ms);
  const fn = `${node.callFrame.functionName || "(anonymous)"} [${place}]`;
  selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + ms);
  // Each place on the stack once: time "in or under" it.
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const placeAt = placeOf(byId.get(at)!);
    if (!seen.has(placeAt)) {
      seen.add(placeAt);
      inclusiveByPlace.set(placeAt, (inclusiveByPlace.get(placeAt) ?? 0) + ms);
    }
  }
}

const top = Number(values.top);
const busy = total - idleMs;
const line = (name: string, ms: number) =>
  `${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)}%${jobs ? ` ${(ms / jobs).toFixed(3).padStart(8)} ms/job` : ""}  ${name}`;
const print = (title: string, entries: Map<string, number>) => {
  process.stdout.write(`\n## ${title}\n`);
  for (const [name, ms] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (name === "(idle)") continue;
    process.stdout.write(`${line(name, ms)}\n`);
  }
};
process.stdout.write(
  `profile: ${(total / 1000).toFixed(1)} s sampled, ${(idleMs / 1000).toFixed(1)} s idle, ${(busy / 1000).toFixed(1)} s busy (percentages of busy)\n`,
);
print("self time by source file", selfByPlace);
print("time in or under each source file", inclusiveByPlace);
print("self time by function", selfByFunction);
