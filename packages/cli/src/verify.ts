import { readFile } from "node:fs/promises";
import { EsignError } from "@esign/errors";
import {
  certificatesFromPem,
  type PdfSignatureReport,
  verificationPasses,
  verificationReportJson,
  verifyPdfSignatures,
} from "@esign/pades";
import { FileSource } from "@esign/pdf";
import { parseVerifyArgs } from "./args";

/** Every certificate in a PEM file (a bundle may hold several roots). */
export async function readPemCertificates(path: string): Promise<Uint8Array[]> {
  const text = await readFile(path, "utf8").catch((cause: unknown) => {
    throw new EsignError("E_CONFIG", `cannot read trust root ${path}`, { cause });
  });
  const certificates = certificatesFromPem(text);
  if (certificates.length === 0) throw new EsignError("E_CERT", `${path} holds no PEM certificate`);
  return certificates;
}

function describe(signature: PdfSignatureReport, chainChecked: boolean): string {
  const verdict = signature.valid
    ? signature.trusted || !chainChecked
      ? "valid"
      : "valid, NOT TRUSTED"
    : "INVALID";
  const lines = [
    `${signature.type === "DocTimeStamp" ? "document time-stamp" : "signature"} ${signature.fieldName}: ${verdict}`,
    `  signer:    ${signature.signer ?? "?"}`,
    `  level:     ${signature.level ?? "none"}${signature.claimedSigningTime ? `, /M ${signature.claimedSigningTime}` : ""}`,
    `  coverage:  ${signature.coversWholeFile ? "whole file" : `revision of ${signature.signedLength} bytes`}`,
  ];
  const timestamp = signature.cms?.signatureTimestamp ?? signature.documentTimestamp;
  if (timestamp)
    lines.push(`  time-stamp: ${timestamp.genTime}${timestamp.imprintMatches ? "" : " (imprint MISMATCH)"}`);
  if (signature.laterChanges) {
    lines.push(
      `  later:     ${signature.laterChanges.onlySignatureAndLtvUpdates ? "only signatures, DSS and time-stamps" : `other changes (${signature.laterChanges.otherObjects.length} objects)`}`,
    );
  }
  for (const problem of signature.problems) lines.push(`  problem:   ${problem}`);
  return lines.join("\n");
}

/** `esign verify FILE [--trust ROOT.pem ...] [--json]`: exit 0 only if every signature holds. */
export async function verify(argv: string[]): Promise<number> {
  const args = parseVerifyArgs(argv);
  const trustRoots = (await Promise.all(args.trust.map(readPemCertificates))).flat();
  const source = await FileSource.open(args.file).catch((cause: unknown) => {
    throw new EsignError("E_NOT_FOUND", `cannot open ${args.file}: ${(cause as Error).message}`, { cause });
  });
  try {
    const report = await verifyPdfSignatures(source, { trustRoots });
    const chainChecked = trustRoots.length > 0;
    const ok = verificationPasses(report, chainChecked);
    if (args.json) {
      process.stdout.write(verificationReportJson(report, chainChecked));
    } else {
      const text = report.signatures.map((signature) => describe(signature, chainChecked));
      if (report.signatures.length === 0) text.push("no signatures");
      if (!chainChecked) text.push("(no --trust given: certificate chains not checked)");
      text.push(ok ? "OK" : "FAILED");
      process.stdout.write(`${text.join("\n")}\n`);
    }
    return ok ? 0 : 1;
  } finally {
    await source.close();
  }
}
