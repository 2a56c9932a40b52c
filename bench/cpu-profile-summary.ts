/**
 * Where the CPU time of a `node --cpu-prof` profile of a bundle went, by source file (through the
 * bundle's source map) and by function: self time, and time including callees per source file.
 *
 *   pnpm exec tsx bench/cpu-profile-summary.ts PROFILE.cpuprofile [--top 40] [--jobs 320]
 *        [--cpu-ms-per-job 8.0]
 *
 * `--jobs N` adds a column of milliseconds per job (the profile's job count, warm-up included).
 * The first table puts every busy sample of a worker in one stage of a job (the first rule below
 * whose function or file is on its stack); `--cpu-ms-per-job` (the CPU time per document the
 * throughput benchmark measured from /proc) turns its shares into milliseconds: on a loaded
 * machine the sampled totals are inflated, the shares are not.
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
  options: {
    top: { type: "string", default: "40" },
    jobs: { type: "string" },
    "cpu-ms-per-job": { type: "string" },
  },
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

/** Stages of a signing job, first match wins: [stage, functions on the stack, places on the stack]. */
const STAGES: [string, string[], RegExp | undefined][] = [
  ["GC", ["(garbage collector)"], undefined],
  [
    "start-up (module loading)",
    ["compileSourceTextModule", "__require2", "parseCJS", "wrapSafe", "__init"],
    /node:internal\/modules/,
  ],
  ["certificate parsing (X509)", ["X509Certificate", "certificateIdentity", "certificateFields"], undefined],
  ["RSA signature", ["signData"], undefined],
  [
    "CMS checks (returned CMS parsed and verified, signature verified)",
    ["checkReturnedCms", "verifyData"],
    undefined,
  ],
  ["CMS build (signed attributes, SignedData)", ["buildSignedAttributes", "assembleCms"], undefined],
  [
    "SHA-256 of the document (digest, write check, stored hash)",
    ["hashByteRange", "take", "take2", "tallying", "getPayloadHash"],
    undefined,
  ],
  ["prepare (parse PDF, build revision)", ["prepare", "prepareJob"], undefined],
  ["embed", ["complete"], undefined],
  ["verify (re-open, field, /ByteRange, /Contents)", ["verifyOutputStructure", "verifyOutput"], undefined],
  [
    "store: S3 client and HTTP",
    [],
    /^dep:@smithy|^dep:@aws-sdk|^storage\/s3|^storage\/block-cache|^node:_http|^dep:fast-xml-parser/,
  ],
  ["store: local files", [], /^storage\/local|^node:internal\/fs/],
  [
    "checkpoints and sign-call claim (Redis)",
    [],
    /^checkpoints\.ts|^exactly-once-signer\.ts|^rate-limiter\.ts/,
  ],
  ["publish (events stream)", [], /^publish\.ts|^jobs\/events/],
  ["BullMQ", [], /^dep:bullmq/],
  ["Redis client (ioredis: encode, parse)", [], /^dep:ioredis|^dep:redis-parser|^dep:@ioredis/],
  ["logging (pino)", [], /pino/],
  ["validation (zod)", [], /^dep:zod/],
  ["metrics (prom-client)", [], /prom-client|^metrics\.ts/],
  ["job bookkeeping (worker, sign-document)", [], /^sign-document\.ts|^worker\.ts/],
];

function stageOf(id: number): string {
  const names = new Set<string>();
  const places = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at)!;
    names.add(node.callFrame.functionName);
    places.add(placeOf(node));
  }
  for (const [stage, functions, place] of STAGES) {
    if (functions.some((name) => names.has(name))) return stage;
    if (place && [...places].some((each) => place.test(each))) return stage;
  }
  return "other (node streams, sockets, timers, promises)";
}

const byStage = new Map<string, number>();
for (const [id, ms] of selfTime) {
  if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
  const stage = stageOf(id);
  byStage.set(stage, (byStage.get(stage) ?? 0) + ms);
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
const perJob = values["cpu-ms-per-job"] ? Number(values["cpu-ms-per-job"]) : undefined;
const startup = byStage.get("start-up (module loading)") ?? 0;
process.stdout.write("\n## stages of a job (start-up left out of the shares)\n");
for (const [stage, ms] of [...byStage].sort((a, b) => b[1] - a[1])) {
  if (stage === "start-up (module loading)") continue;
  const share = ms / (busy - startup);
  process.stdout.write(
    `| ${stage} | ${(100 * share).toFixed(1)}% |${perJob ? ` ${(share * perJob).toFixed(2)} |` : ""}\n`,
  );
}
print("self time by source file", selfByPlace);
print("time in or under each source file", inclusiveByPlace);
print("self time by function", selfByFunction);
