/**
 * One benchmark run in its own process, so maxRSS is this run's peak and nothing else's:
 * `node --import tsx bench/pdf-engine/run-one.ts TOOL INPUT OUTPUT P12 PASSWORD`.
 * Prints one ChildReport JSON line; a crash (out of memory) or a kill shows as no line at all.
 */
import { performance } from "node:perf_hooks";
import type { ChildReport } from "./run-result";
import { isToolName, TOOLS } from "./tools/index";

const [tool = "", input, output, p12Path, password] = process.argv.slice(2);
if (!isToolName(tool) || !input || !output || !p12Path || password === undefined) {
  console.error(`usage: run-one.ts ${Object.keys(TOOLS).join("|")} INPUT OUTPUT P12 PASSWORD`);
  process.exit(2);
}

const loadTool = await TOOLS[tool].load();
const loadedRssKiB = process.resourceUsage().maxRSS;
let report: ChildReport;
try {
  const keyStarted = performance.now();
  const signFile = await loadTool({ p12Path, password });
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  await signFile(input, output);
  const ms = performance.now() - started;
  const { user, system } = process.cpuUsage(cpuStarted);
  const cpuMs = (user + system) / 1000;
  const keyMs = started - keyStarted;
  report = { ok: true, keyMs, ms, cpuMs, peakRssKiB: process.resourceUsage().maxRSS, loadedRssKiB };
} catch (error) {
  const { name, message } = error as Error;
  report = { ok: false, error: `${name}: ${message}` };
}
console.log(JSON.stringify(report));
