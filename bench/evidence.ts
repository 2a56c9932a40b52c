/**
 * What the e-contract evidence costs: `pnpm exec tsx bench/evidence.ts [--appends 400] [--write]`.
 * - Audit trail appends (Redis compare-and-set + one store write each) on the local store:
 *   one after the other on one contract; 5 Redis connections racing on one contract (every lost
 *   race is a retry); 5 connections on 5 contracts. Then `verify` of a trail of `--appends` entries.
 * - Certificate of completion: first in the process (font read, HarfBuzz wasm, first subset), then
 *   warm with 2 and 30 signers (median of 10), and with names no certificate had before (new subset).
 * - Evidence pack of a 1 MB signed PDF.
 * Needs Redis on 127.0.0.1:6379. `--write` replaces the "evidence" section of docs/benchmarks.md.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  AuditTrail,
  buildEvidencePack,
  type CompletionSummary,
  renderCompletionCertificate,
} from "@esign/contracts";
import { LocalStore } from "@esign/storage";
import { Redis } from "ioredis";
import { writeBenchmarksSection } from "./benchmarks-doc";

const { values } = parseArgs({
  options: { appends: { type: "string", default: "400" }, write: { type: "boolean", default: false } },
});
const appends = Number(values.appends);
const loadAtStart = loadavg()[0]!;
const root = await mkdtemp(join(tmpdir(), "esign-bench-evidence-"));
const keyPrefix = `bench-evidence-${randomUUID()}`;
const store = new LocalStore("default", { type: "local", root });
const connections = Array.from({ length: 5 }, () => new Redis({ host: "127.0.0.1", port: 6379 }));
const trails = connections.map(
  (redis) =>
    new AuditTrail({ redis, keyPrefix, store, folderOf: (id) => ({ store: "default", key: `c/${id}` }) }),
);
const event = { type: "viewed" as const, signerId: "s1", ip: "203.0.113.9", userAgent: "Mozilla/5.0" };

async function perSecond(run: () => Promise<unknown>, count: number): Promise<number> {
  const start = performance.now();
  await run();
  return count / ((performance.now() - start) / 1000);
}

const sequentialId = randomUUID();
const sequential = await perSecond(async () => {
  for (let index = 0; index < appends; index++) await trails[0]!.append(sequentialId, event);
}, appends);
const racingId = randomUUID();
const racing = await perSecond(
  () =>
    Promise.all(Array.from({ length: appends }, (_, index) => trails[index % 5]!.append(racingId, event))),
  appends,
);
const spread = await perSecond(async () => {
  const ids = Array.from({ length: 5 }, () => randomUUID());
  await Promise.all(
    ids.map(async (id, lane) => {
      for (let index = 0; index < appends / 5; index++) await trails[lane]!.append(id, event);
    }),
  );
}, appends);
const verifyStart = performance.now();
const verification = await trails[0]!.verify(sequentialId);
const verifyMs = performance.now() - verifyStart;
if (!verification.valid || verification.entries !== appends)
  throw new Error("the benchmark trail does not verify");

const signer = (index: number, name: string) => ({
  name,
  email: `signer${index}@example.com`,
  method: "email-otp",
  status: "signed",
  signedAt: "2026-12-05T10:00:00.000Z",
  ip: "203.0.113.9",
  userAgent:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  digest: index.toString(16).padStart(64, "0"),
});
const summary = (signers: CompletionSummary["signers"]): CompletionSummary => ({
  contractId: "c-bench",
  title: "劳动合同 Employment agreement",
  tenant: "acme",
  createdAt: "2026-12-05T09:00:00.000Z",
  completedAt: "2026-12-05T10:30:00.000Z",
  status: "completed",
  originalSha256: "a".repeat(64),
  finalSha256: "b".repeat(64),
  signers,
  auditHead: { entries: 17, hash: "c".repeat(64) },
});
const two = summary([signer(1, "Alice Example"), signer(2, "张伟")]);
const thirty = summary(Array.from({ length: 30 }, (_, index) => signer(index, `签署人 ${index} Signer`)));

async function timedMs(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}
const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
const first = await timedMs(() => renderCompletionCertificate(two));
const warmTwo: number[] = [];
const warmThirty: number[] = [];
const fresh: number[] = [];
let certificateBytes = 0;
for (let round = 0; round < 10; round++) {
  warmTwo.push(
    await timedMs(async () => (certificateBytes = (await renderCompletionCertificate(two)).length)),
  );
  warmThirty.push(await timedMs(() => renderCompletionCertificate(thirty)));
  const newName = `张${String.fromCodePoint(0x4e00 + 41 * round)}${String.fromCodePoint(0x5000 + 43 * round)}`;
  fresh.push(
    await timedMs(() =>
      renderCompletionCertificate(summary([signer(1, "Alice Example"), signer(2, newName)])),
    ),
  );
}
const signedPdf = new Uint8Array(1024 * 1024).map((_, index) => (index * 7919) % 251);
const certificatePdf = await renderCompletionCertificate(two);
const audit = await trails[0]!.read(sequentialId);
const packMs: number[] = [];
for (let round = 0; round < 10; round++) {
  packMs.push(
    await timedMs(() =>
      buildEvidencePack({ signedPdf, validationReport: { valid: true }, audit, certificatePdf }),
    ),
  );
}

const ms = (value: number) => value.toFixed(1);
const lines = [
  "## Evidence (audit trail, certificate, evidence pack)",
  "",
  "```sh",
  `pnpm exec tsx bench/evidence.ts --appends ${appends} --write`,
  "```",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}; Redis on the same machine, local store in ${tmpdir()}; 1-minute load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (a machine shared with other engineers: read the figures as orders of magnitude).`,
  "",
  "| audit trail | figure |",
  "| --- | --- |",
  `| appends, one after the other, one contract | ${sequential.toFixed(0)} /s |`,
  `| appends, 5 Redis connections (5 AuditTrail instances) racing on one contract, all issued at once (lost races retry) | ${racing.toFixed(0)} /s |`,
  `| appends, 5 connections on 5 contracts | ${spread.toFixed(0)} /s |`,
  `| verify a trail of ${appends} entries (list, read, rehash) | ${ms(verifyMs)} ms |`,
  "",
  "| certificate of completion | time |",
  "| --- | --- |",
  `| first in the process (font file, HarfBuzz wasm, first subset) | ${ms(first)} ms |`,
  `| 2 signers, warm (median of 10) | ${ms(median(warmTwo))} ms (${certificateBytes} bytes) |`,
  `| 30 signers, warm, 2 pages (median of 10) | ${ms(median(warmThirty))} ms |`,
  `| 2 signers, a new name each time (new subset; median of 10) | ${ms(median(fresh))} ms |`,
  "",
  "Appends of one `AuditTrail` instance to one contract are chained in call order, so only other instances race",
  "for the head; before that, the racing case (400 appends in flight at once) measured 8 /s, every lost race",
  "retrying against all the others.",
  "",
  `Evidence pack of a 1 MB signed PDF, the certificate and ${appends} audit entries: ${ms(median(packMs))} ms (median of 10).`,
];

let cursor = "0";
do {
  const [next, keys] = await connections[0]!.scan(cursor, "MATCH", `${keyPrefix}:*`, "COUNT", 1000);
  if (keys.length > 0) await connections[0]!.del(...keys);
  cursor = next;
} while (cursor !== "0");
await Promise.all(connections.map((redis) => redis.quit()));
await rm(root, { recursive: true, force: true });

process.stdout.write(`${lines.join("\n")}\n`);
if (values.write) process.stdout.write(`written to ${await writeBenchmarksSection("evidence", lines)}\n`);
