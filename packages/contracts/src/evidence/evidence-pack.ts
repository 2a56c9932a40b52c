import { createHash } from "node:crypto";
import { type Zippable, zipSync } from "fflate";
import type { AuditEntry } from "./audit-trail";

export interface EvidencePackInput {
  signedPdf: Uint8Array;
  validationReport: unknown;
  audit: AuditEntry[];
  certificatePdf: Uint8Array;
}

export interface EvidenceManifest {
  format: "esign-evidence-pack/1";
  /** The contract the audit entries belong to (absent for an empty trail). */
  contractId?: string;
  files: { name: string; size: number; sha256: string }[];
}

/** PDFs are compressed inside already: stored as they are, so unzipping is a copy. */
const STORED = { level: 0 } as const;
const DEFLATED = { level: 6 } as const;

/**
 * The evidence pack: a zip of the signed PDF, its validation report, the audit trail and the
 * certificate of completion, with `manifest.json` giving each file's size and SHA-256.
 */
export async function buildEvidencePack(input: EvidencePackInput): Promise<Uint8Array> {
  const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value ?? null, null, 2)}\n`);
  const files: [string, Uint8Array, typeof STORED | typeof DEFLATED][] = [
    ["signed.pdf", input.signedPdf, STORED],
    ["validation-report.json", json(input.validationReport), DEFLATED],
    ["audit.json", json(input.audit), DEFLATED],
    ["certificate.pdf", input.certificatePdf, STORED],
  ];
  const manifest: EvidenceManifest = {
    format: "esign-evidence-pack/1",
    contractId: input.audit[0]?.contractId,
    files: files.map(([name, bytes]) => ({
      name,
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    })),
  };
  const zippable: Zippable = { "manifest.json": [json(manifest), DEFLATED] };
  for (const [name, bytes, options] of files) zippable[name] = [bytes, options];
  return zipSync(zippable);
}
