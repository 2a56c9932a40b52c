/**
 * What the local store's durable write costs on this disk, without the rest of a job: a 40 KB file
 * written, fsynced, renamed, then its folder fsynced (`LocalStore.writeValid`'s sequence), `--in-flight`
 * at once. Prints the fsync latencies and the writes per second.
 *
 *   pnpm exec tsx bench/fsync-latency.ts [--writes 600] [--in-flight 1,16] [--dir /tmp]
 */
import { mkdtemp, open, rename, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    writes: { type: "string", default: "600" },
    "in-flight": { type: "string", default: "1,16" },
    dir: { type: "string", default: tmpdir() },
  },
});
const WRITES = Number(values.writes);
const DOCUMENT = Buffer.alloc(40 * 1024, 7);

function percentile(samples: number[], share: number): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(share * (sorted.length - 1))]!.toFixed(2);
}

for (const inFlight of values["in-flight"].split(",").map(Number)) {
  const directory = await mkdtemp(join(values.dir, "fsync-latency-"));
  const fileSyncMs: number[] = [];
  const folderSyncMs: number[] = [];
  let next = 0;
  const writeOne = async (index: number) => {
    const partial = join(directory, `.${index}.partial`);
    const handle = await open(partial, "wx", 0o600);
    await handle.write(DOCUMENT);
    let started = performance.now();
    await handle.sync();
    fileSyncMs.push(performance.now() - started);
    await handle.close();
    await rename(partial, join(directory, `${index}.pdf`));
    const folder = await open(directory, "r");
    started = performance.now();
    await folder.sync();
    folderSyncMs.push(performance.now() - started);
    await folder.close();
  };
  const loadStart = loadavg()[0]!;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < WRITES) await writeOne(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${inFlight} in flight: file fsync p50 ${percentile(fileSyncMs, 0.5)} p90 ${percentile(fileSyncMs, 0.9)} p99 ${percentile(fileSyncMs, 0.99)} ms, folder fsync p50 ${percentile(folderSyncMs, 0.5)} p90 ${percentile(folderSyncMs, 0.9)} ms; ${(WRITES / seconds).toFixed(0)} writes/s; load ${loadStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}\n`,
  );
  await rm(directory, { recursive: true, force: true });
}
