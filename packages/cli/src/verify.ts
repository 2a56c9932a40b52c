import { EsignError } from "@esign/errors";
import {
  etsiValidationReportXml,
  loadTrustStore,
  type PdfSignatureReport,
  verificationPasses,
  verificationReportJson,
  verifyPdfSignatures,
} from "@esign/pades";
import { FileSource } from "@esign/pdf";
import { parseVerifyArgs } from "./args";

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
  lines.push(
    `  verdict:   ${signature.indication}${signature.subIndication ? ` / ${signature.subIndication}` : ""}`,
  );
  lines.push(`  changes:   ${signature.modifications}`);
  for (const change of signature.changes.filter((c) => !c.allowed)) {
    lines.push(`    object ${change.object} (${change.kind}): ${change.why}`);
  }
  lines.push(`  LTV:       ${signature.ltvEnabled ? "enabled" : "not enabled"}`);
  for (const gap of signature.ltvGaps) lines.push(`    ${gap.certificate} lacks ${gap.missing}`);
  for (const finding of signature.findings)
    lines.push(`  finding:   ${finding.subIndication}: ${finding.reason}`);
  for (const problem of signature.problems) lines.push(`  problem:   ${problem}`);
  return lines.join("\n");
}

/**
 * `esign verify FILE [--trust ROOT.pem ...] [--json | --report etsi] [--ltv]`: exit 0 only if every signature's
 * indication is TOTAL-PASSED (and, with --ltv, every signature is LTV enabled).
 */
export async function verify(argv: string[]): Promise<number> {
  const args = parseVerifyArgs(argv);
  const trustRoots = await loadTrustStore(args.trust);
  const source = await FileSource.open(args.file).catch((cause: unknown) => {
    throw new EsignError("E_NOT_FOUND", `cannot open ${args.file}: ${(cause as Error).message}`, { cause });
  });
  try {
    const report = await verifyPdfSignatures(source, {
      trustRoots,
      password: args.pdfPassword,
      online: args.online,
      revocationGraceMs: args.revocationGraceMs,
    });
    const chainChecked = trustRoots.length > 0;
    const ok = verificationPasses(report) && (!args.ltv || report.signatures.every((s) => s.ltvEnabled));
    if (args.etsiReport) {
      process.stdout.write(etsiValidationReportXml(report));
    } else if (args.json) {
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
