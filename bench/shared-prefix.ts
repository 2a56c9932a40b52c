/**
 * Workers lacking a job's store next to the one that has it, on one queue prefix: how long until
 * every job is signed, and how often jobs were put back. Liveness, not speed: run it on a loaded
 * box (`--busy`, one busy-loop process each) to see whether put-backs compete with the owner.
 *
 *   pnpm exec tsx bench/shared-prefix.ts [--jobs 12] [--lacking 3] [--owner-concurrency 1]
 *                                        [--busy 2] [--limit-s 150]
 *
 * The lacking workers start first and see the jobs alone for 1.5 s, then the owner joins. Needs
 * Redis at 127.0.0.1:6379 (a fresh prefix, removed at the end).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createHarness } from "../services/worker/test/harness";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "12" },
    lacking: { type: "string", default: "3" },
    "owner-concurrency": { type: "string", default: "1" },
    busy: { type: "string", default: "2" },
    "limit-s": { type: "string", default: "150" },
  },
});
const jobs = Number(values.jobs);
const limitMs = Number(values["limit-s"]) * 1000;

const busy: ChildProcess[] = Array.from({ length: Number(values.busy) }, () =>
  spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }),
);
const harness = await createHarness();
try {
  await harness.put("inbox/invoice.pdf");
  for (let replica = 0; replica < Number(values.lacking); replica++) {
    await harness.startWorker({
      stores: { elsewhere: { type: "local", root: join(harness.root, "elsewhere") } },
    });
  }
  const started = Date.now();
  const ids = await Promise.all(
    Array.from({ length: jobs }, async (_, index) => {
      const { id } = await harness.client.submit({
        input: { store: "default", key: "inbox/invoice.pdf" },
        output: { store: "default", key: `signed/invoice-${index}.pdf` },
        signer: "seal",
      });
      return id;
    }),
  );
  await sleep(1500);
  await harness.startWorker({ concurrency: Number(values["owner-concurrency"]) });
  let signed = 0;
  while (Date.now() - started < limitMs) {
    const states = await Promise.all(ids.map((id) => harness.client.get(id).then((status) => status.state)));
    signed = states.filter((state) => state === "completed").length;
    if (signed === jobs) break;
    await sleep(500);
  }
  const elapsed = (Date.now() - started) / 1000;
  const putBacks = new Map<string, number>();
  // The queue submit() chose by default, the one the jobs ran on.
  const { queue } = await harness.client.get(ids[0]!);
  for (const [, fields] of await harness.redis.xrange(`${harness.prefix}:${queue}:events`, "-", "+")) {
    const event = Object.fromEntries(
      fields.flatMap((field, index) => (index % 2 === 0 ? [[field, fields[index + 1]]] : [])),
    );
    if (event.event === "delayed") putBacks.set(event.jobId, (putBacks.get(event.jobId) ?? 0) + 1);
  }
  const counts = ids.map((id) => putBacks.get(id) ?? 0);
  console.log(
    JSON.stringify({
      ...values,
      loadAverage: loadavg().map((load) => load.toFixed(1)),
      outcome:
        signed === jobs
          ? `all ${jobs} signed in ${elapsed.toFixed(1)} s`
          : `${jobs - signed} unsigned after ${elapsed.toFixed(1)} s`,
      putBacks: { total: counts.reduce((sum, count) => sum + count, 0), mostForOneJob: Math.max(...counts) },
    }),
  );
} finally {
  for (const child of busy) child.kill();
  await harness.close();
}
