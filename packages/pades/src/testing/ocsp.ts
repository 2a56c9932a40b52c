import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Extension } from "@peculiar/x509";
import { OID } from "../asn1/oids";
import { issueCertificate, type TestIdentity, type TestKeyType, toPem } from "./pki";

const run = promisify(execFile);

/** "unknown": the responder has never heard of the certificate. */
export type TestCertificateStatus = "good" | "revoked" | "unknown";

/** Who signs OCSP responses, and how. */
export interface OcspSigning {
  /** The issuer itself by default, else a delegated responder (its certificate travels in the response). */
  responder?: TestIdentity;
  /** When a revoked certificate was revoked (whole seconds). Default: a minute before the answer. */
  revokedAt?: Date;
  /** RSASSA-PSS (salt length = hash length) instead of PKCS#1 v1.5; needs an RSA responder key. */
  pss?: boolean;
}

/** `openssl ca` database time format: YYMMDDHHMMSSZ. */
function caTime(date: Date): string {
  return `${date.toISOString().slice(2, 19).replace(/[-T:]/g, "")}Z`;
}

/** One line of an `openssl ca` index, the database `openssl ocsp` answers from. */
function indexRow(certificate: Uint8Array, status: TestCertificateStatus, revokedAt?: Date): string {
  if (status === "unknown") return "";
  const x509 = new X509Certificate(certificate);
  const revocation = status === "revoked" ? caTime(revokedAt ?? new Date(Date.now() - 60_000)) : "";
  const subject = `/${x509.subject.split("\n").join("/")}`;
  const row = [
    status === "revoked" ? "R" : "V",
    caTime(new Date(x509.validTo)),
    revocation,
    x509.serialNumber,
    "unknown",
    subject,
  ];
  return `${row.join("\t")}\n`;
}

/**
 * Runs `openssl ocsp` in responder mode over an index of `statuses`; `request` names the
 * certificates asked about (openssl's own -issuer/-cert request, or a received request file).
 */
async function opensslRespond(
  issuer: TestIdentity,
  statuses: [Uint8Array, TestCertificateStatus][],
  signing: OcspSigning,
  request: (directory: string) => Promise<string[]>,
): Promise<Uint8Array> {
  const responder = signing.responder ?? issuer;
  const directory = await mkdtemp(join(tmpdir(), "esign-ocsp-"));
  try {
    const path = (file: string) => join(directory, file);
    await writeFile(
      path("index.txt"),
      statuses.map(([der, status]) => indexRow(der, status, signing.revokedAt)).join(""),
    );
    await writeFile(path("issuer.pem"), toPem(issuer.certificate));
    await writeFile(path("responder.pem"), toPem(responder.certificate));
    await writeFile(path("responder.key"), responder.privateKey.export({ type: "pkcs8", format: "pem" }));
    const pss = signing.pss ? ["-rsigopt", "rsa_padding_mode:pss", "-rsigopt", "rsa_pss_saltlen:digest"] : [];
    await run("openssl", [
      ...["ocsp", "-index", path("index.txt"), "-CA", path("issuer.pem")],
      ...["-rsigner", path("responder.pem"), "-rkey", path("responder.key"), ...pss],
      ...(await request(directory)),
      ...["-respout", path("response.der"), "-ndays", "1"],
    ]);
    return new Uint8Array(await readFile(path("response.der")));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

export interface OcspResponseOptions extends OcspSigning {
  /** The hash of the response's CertID (the request's, which the responder echoes). Default sha1. */
  certIdHash?: "sha1" | "sha256";
}

/**
 * An OCSPResponse (DER) about `certificate`, made offline by `openssl ocsp` in responder mode:
 * an independent producer for revocation checks in tests. Valid for a day from now.
 */
export function opensslOcspResponse(
  issuer: TestIdentity,
  certificate: Uint8Array,
  status: TestCertificateStatus,
  options: OcspResponseOptions = {},
): Promise<Uint8Array> {
  return opensslRespond(issuer, [[certificate, status]], options, async (directory) => {
    await writeFile(join(directory, "cert.pem"), toPem(certificate));
    const certId = `-${options.certIdHash ?? "sha1"}`;
    return ["-issuer", join(directory, "issuer.pem"), certId, "-cert", join(directory, "cert.pem")];
  });
}

export interface TestOcspResponder {
  /** http://127.0.0.1:port/, for the AIA of the certificates it answers for. */
  url: string;
  /** Answers for `certificate` from now on; certificates never set are "unknown". */
  setStatus(certificate: Uint8Array, status: TestCertificateStatus): void;
  /** The responses served, in order. */
  responses: Uint8Array[];
  close(): Promise<void>;
}

/**
 * An OCSP responder on 127.0.0.1 for the certificates of `issuer`: each POSTed request is
 * answered by `openssl ocsp -reqin`, so what a client asks is read by an independent parser.
 */
export async function startOcspResponder(
  issuer: TestIdentity,
  signing: OcspSigning = {},
): Promise<TestOcspResponder> {
  const statuses = new Map<string, [Uint8Array, TestCertificateStatus]>();
  const responses: Uint8Array[] = [];
  const server = createServer(async (request, reply) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    try {
      const response = await opensslRespond(issuer, [...statuses.values()], signing, async (directory) => {
        await writeFile(join(directory, "request.der"), Buffer.concat(chunks));
        return ["-reqin", join(directory, "request.der")];
      });
      responses.push(response);
      reply.writeHead(200, { "content-type": "application/ocsp-response" }).end(response);
    } catch (error) {
      reply.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    setStatus(certificate, status) {
      statuses.set(Buffer.from(certificate).toString("hex"), [certificate, status]);
    },
    responses,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/**
 * `openssl ocsp -respin` verdict on a response: its signature and responder authority against
 * `root`, and the status it gives `certificate`. The independent judge of what we accept.
 */
export async function opensslCheckOcspResponse(
  response: Uint8Array,
  issuer: Uint8Array,
  certificate: Uint8Array,
  root: Uint8Array,
): Promise<{ ok: boolean; output: string }> {
  const directory = await mkdtemp(join(tmpdir(), "esign-ocsp-check-"));
  try {
    const path = (file: string) => join(directory, file);
    await writeFile(path("response.der"), response);
    await writeFile(path("issuer.pem"), toPem(issuer));
    await writeFile(path("cert.pem"), toPem(certificate));
    await writeFile(path("root.pem"), toPem(root));
    const { stdout, stderr } = await run("openssl", [
      ...["ocsp", "-respin", path("response.der"), "-CAfile", path("root.pem")],
      ...["-issuer", path("issuer.pem"), "-cert", path("cert.pem"), "-resp_text"],
    ]);
    return { ok: true, output: `${stderr}${stdout}` };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stderr ?? ""}${failed.stdout ?? ""}` };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** A delegated OCSP responder of `issuer`: EKU OCSPSigning, and ocsp-nocheck (its own status is not asked). */
export function issueOcspResponder(issuer: TestIdentity, keyType?: TestKeyType): Promise<TestIdentity> {
  return issueCertificate({
    subject: "CN=esign test OCSP responder,O=esign-agent tests",
    issuer,
    keyType,
    extendedKeyUsage: { oids: [OID.ocspSigning], critical: false },
    // The extension's value is an ASN.1 NULL.
    extraExtensions: [new Extension(OID.ocspNoCheck, false, Uint8Array.of(0x05, 0x00))],
  });
}
