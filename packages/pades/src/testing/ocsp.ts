import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type TestIdentity, toPem } from "./pki";

const run = promisify(execFile);

/** `openssl ca` database time format: YYMMDDHHMMSSZ. */
function caTime(date: Date): string {
  return `${date.toISOString().slice(2, 19).replace(/[-T:]/g, "")}Z`;
}

/**
 * An OCSPResponse (DER) about `certificate`, signed by `responder` (default: the issuer; a
 * delegated responder's certificate travels in the response), made offline by `openssl ocsp` in
 * responder mode: an independent producer for revocation checks in tests.
 */
export async function opensslOcspResponse(
  issuer: TestIdentity,
  certificate: Uint8Array,
  status: "good" | "revoked",
  responder: TestIdentity = issuer,
): Promise<Uint8Array> {
  const directory = await mkdtemp(join(tmpdir(), "esign-ocsp-"));
  try {
    const path = (file: string) => join(directory, file);
    const x509 = new X509Certificate(certificate);
    const revokedAt = status === "revoked" ? caTime(new Date(Date.now() - 60_000)) : "";
    const subject = `/${x509.subject.split("\n").join("/")}`;
    const row = [
      status === "revoked" ? "R" : "V",
      caTime(new Date(x509.validTo)),
      revokedAt,
      x509.serialNumber,
      "unknown",
      subject,
    ];
    await writeFile(path("index.txt"), `${row.join("\t")}\n`);
    await writeFile(path("issuer.pem"), toPem(issuer.certificate));
    await writeFile(path("responder.pem"), toPem(responder.certificate));
    await writeFile(path("responder.key"), responder.privateKey.export({ type: "pkcs8", format: "pem" }));
    await writeFile(path("cert.pem"), toPem(certificate));
    await run("openssl", [
      ...[
        "ocsp",
        "-index",
        path("index.txt"),
        "-rsigner",
        path("responder.pem"),
        "-rkey",
        path("responder.key"),
      ],
      ...["-CA", path("issuer.pem"), "-issuer", path("issuer.pem"), "-cert", path("cert.pem")],
      ...["-respout", path("response.der"), "-ndays", "1"],
    ]);
    return new Uint8Array(await readFile(path("response.der")));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
