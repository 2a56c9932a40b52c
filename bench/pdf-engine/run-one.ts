/**
 * One benchmark run in its own process, so maxRSS is this run's peak and nothing else's:
 * `node --import tsx bench/pdf-engine/run-one.ts TOOL INPUT OUTPUT P12 PASSWORD [REPEAT]`.
 * With REPEAT > 1 the document is signed again REPEAT - 1 times, as a long-running worker would.
 * Prints one ChildReport JSON line; a crash (out of memory) or a kill shows as no line at all.
 */
import { performance } from "node:perf_hooks";
import type { ChildReport, Timing } from "./run-result";
import { median } from "./stats";
import { isToolName, TOOLS } from "./tools/index";

const [tool = "", input, output, p12Path, password, repeat = "1"] = process.argv.slice(2);
if (!isToolName(tool) || !input || !output || !p12Path || password === undefined) {
  console.error(`usage: run-one.ts ${Object.keys(TOOLS).join("|")} INPUT OUTPUT P12 PASSWORD [REPEAT]`);
  process.exit(2);
}

async function timed(work: () => Promise<void>): Promise<Timing> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  await work();
  const { user, system } = process.cpuUsage(cpuStarted);
  return { ms: performance.now() - started, cpuMs: (user + system) / 1000 };
}

const loadTool = await TOOLS[tool].load();
const loadedRssKiB = process.resourceUsage().maxRSS;
let report: ChildReport;
try {
  const keyStarted = performance.now();
  const signFile = await loadTool({ p12Path, password });
  const keyMs = performance.now() - keyStarted;
  const first = await timed(() => signFile(input, output));
  const again: Timing[] = [];
  for (let run = 1; run < Number(repeat); run++) again.push(await timed(() => signFile(input, output)));
  const warm = again.length
    ? { ms: median(again.map((t) => t.ms)), cpuMs: median(again.map((t) => t.cpuMs)) }
    : undefined;
  report = { ok: true, keyMs, ...first, warm, peakRssKiB: process.resourceUsage().maxRSS, loadedRssKiB };
} catch (error) {
  const { name, message } = error as Error;
  report = { ok: false, error: `${name}: ${message}` };
}
console.log(JSON.stringify(report));
