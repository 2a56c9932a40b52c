/**
 * Warm in-process signing per core: `signPdf` (prepare, digest, RSA-2048 signature, CMS check,
 * embed, verify) of `chromium-invoice.pdf` from memory, PAdES B-B, in one process after a
 * warm-up, output bytes joined in memory. Signatures per second of CPU time (user + system of
 * this process) is the per-core figure; wall-clock rate is shown beside it, since on a shared
 * machine the process does not always get its core.
 *
 *   pnpm exec tsx bench/sign-per-core.ts [--seconds 20] [--cpu-prof] [--write]
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createTestPki } from "@esign/pades/testing";
import { BufferSource, readChunks } from "@esign/pdf";
import { signPdf } from "@esign/pipeline";
import { CmsBuildingSigner, LocalKeyProvider } from "@esign/signers";
import { REPO_ROOT } from "@esign/testkit";
import { SMALL_PDF } from "../test/worker-cluster";
import { writeBenchmarksSection } from "./benchmarks-doc";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "20" }, write: { type: "boolean", default: false } },
});

const pki = await createTestPki({ keyType: "rsa", intermediate: true });
const signer = new CmsBuildingSigner({
  provider: new LocalKeyProvider({
    privateKey: pki.signer.privateKey,
    certificate: pki.signer.certificate,
    chain: pki.signer.chain,
    signatureAlgorithm: pki.signer.signatureAlgorithm,
  }),
});
const input = new Uint8Array(await readFile(SMALL_PDF));

async function signOne(): Promise<number> {
  const signed = await signPdf(new BufferSource(input), signer, { level: "B-B" });
  let size = 0;
  for await (const chunk of readChunks(signed.output)) size += chunk.length;
  return size;
}

for (let warm = 0; warm < 200; warm++) await signOne();
const loadStart = loadavg()[0]!;
const cpuBefore = process.cpuUsage();
const started = performance.now();
let signatures = 0;
while (performance.now() - started < Number(values.seconds) * 1000) {
  await signOne();
  signatures++;
}
const wallSeconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const result = {
  signatures,
  perCpuSecond: signatures / cpuSeconds,
  perWallSecond: signatures / wallSeconds,
  cpuMsPerSignature: (cpuSeconds * 1000) / signatures,
  loadStart,
  loadEnd: loadavg()[0]!,
};
process.stdout.write(`${JSON.stringify(result)}\n`);

if (values.write) {
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT }).toString().trim();
  const section = [
    "## Warm signing per core",
    "",
    "`signPdf` of `chromium-invoice.pdf` (31 KB) from memory in one warm process: prepare, digest,",
    "RSA-2048 signature (local key), check of the CMS, embed, verify (the output re-opened over the already parsed input, its byte range re-hashed), output",
    "bytes read out. No queue, no store, no network.",
    "",
    "```sh",
    `pnpm exec tsx bench/sign-per-core.ts --seconds ${values.seconds} --write`,
    "```",
    "",
    `Measured ${new Date().toISOString().slice(0, 16)}Z at commit ${commit} on ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}; 1-minute load average ${result.loadStart.toFixed(1)} → ${result.loadEnd.toFixed(1)}.`,
    "",
    "| signatures | CPU ms per signature | signatures per CPU-second (per core) | signatures per wall-clock second |",
    "| --- | --- | --- | --- |",
    `| ${signatures} | ${result.cpuMsPerSignature.toFixed(2)} | **${result.perCpuSecond.toFixed(0)}** | ${result.perWallSecond.toFixed(0)} |`,
  ];
  process.stdout.write(`updated ${await writeBenchmarksSection("sign-per-core", section)}\n`);
}
