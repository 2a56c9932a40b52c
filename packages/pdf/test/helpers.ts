import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@esign/testkit";
import { afterAll } from "vitest";
import {
  BufferSource,
  type ByteSource,
  type OpenOptions,
  openPdf,
  type PreparedSignature,
  prepareSignature,
  readChunks,
} from "../src";
import type { SignatureOptions } from "../src/writer/signature";

export { failuresUnderRoots, run, SAMPLES_DIR as SAMPLES, validate } from "@esign/testkit";
export const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** Scratch directories of the importing test file, removed after it (KEEP_TMP=1 keeps them). */
const scratchDirs: string[] = [];
afterAll(() => {
  if (process.env.KEEP_TMP) return;
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export interface TestPki {
  dir: string;
  rootCert: string;
  leafCert: string;
  leafKey: string;
  /** A time-stamping authority certificate (EKU timeStamping, critical) under the same root. */
  tsaCert: string;
  tsaKey: string;
}

const openssl = (args: string) => run("openssl", args.split(" "));

/** A throwaway RSA root, signer and TSA made with the openssl CLI. */
export async function makePki(): Promise<TestPki> {
  const dir = scratchDir("esign-pdf-pki-");
  const path = (file: string) => join(dir, file);
  await run("openssl", [
    ..."req -x509 -newkey rsa:2048 -nodes -days 30 -subj".split(" "),
    "/CN=esign-pdf test root",
    ...`-keyout ${path("root.key")} -out ${path("root.pem")}`.split(" "),
    ..."-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign".split(" "),
  ]);
  const issue = async (name: string, commonName: string, extensions: string) => {
    writeFileSync(
      path(`${name}.ext`),
      `basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\n${extensions}\n`,
    );
    await run("openssl", [
      ..."req -newkey rsa:2048 -nodes -subj".split(" "),
      `/CN=${commonName}`,
      ...`-keyout ${path(`${name}.key`)} -out ${path(`${name}.csr`)}`.split(" "),
    ]);
    await openssl(
      `x509 -req -in ${path(`${name}.csr`)} -CA ${path("root.pem")} -CAkey ${path("root.key")} -CAcreateserial ` +
        `-days 30 -extfile ${path(`${name}.ext`)} -out ${path(`${name}.pem`)}`,
    );
  };
  await issue("leaf", "esign-pdf test signer", "keyUsage=critical,digitalSignature,nonRepudiation");
  await issue(
    "tsa",
    "esign-pdf test TSA",
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping",
  );
  return {
    dir,
    rootCert: path("root.pem"),
    leafCert: path("leaf.pem"),
    leafKey: path("leaf.key"),
    tsaCert: path("tsa.pem"),
    tsaKey: path("tsa.key"),
  };
}

/** Writes the bytes a ByteRange covers (streamed from the source) into a file. */
async function writeCovered(source: ByteSource, byteRange: readonly number[], file: string): Promise<void> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < byteRange.length; i += 2) {
    for await (const chunk of readChunks(source, byteRange[i]!, byteRange[i]! + byteRange[i + 1]!))
      parts.push(chunk);
  }
  writeFileSync(file, Buffer.concat(parts));
}

/** A real detached CMS over the covered bytes, made by `openssl cms -sign`. */
export async function opensslCms(prepared: PreparedSignature, pki: TestPki): Promise<Uint8Array> {
  const { work, covered } = await coveredFile(prepared, pki);
  const der = join(work, "sig.der");
  await openssl(
    `cms -sign -binary -outform DER -md sha256 -nosmimecap -signer ${pki.leafCert} -inkey ${pki.leafKey} ` +
      `-certfile ${pki.rootCert} -in ${covered} -out ${der}`,
  );
  return readFileSync(der);
}

/** A real RFC 3161 token over the covered bytes, made by `openssl ts -reply` (for /DocTimeStamp). */
export async function opensslTimestampToken(prepared: PreparedSignature, pki: TestPki): Promise<Uint8Array> {
  const { work, covered } = await coveredFile(prepared, pki);
  const path = (file: string) => join(work, file);
  writeFileSync(
    path("ts.cnf"),
    `[tsa]\ndefault_tsa=test\n[test]\nserial=${path("serial")}\nsigner_digest=sha256\ndefault_policy=1.2.3.4.1\n` +
      "digests=sha256\ness_cert_id_alg=sha256\naccuracy=secs:1\nordering=no\ntsa_name=no\ness_cert_id_chain=no\n",
  );
  writeFileSync(path("serial"), "01\n");
  await openssl(`ts -query -data ${covered} -sha256 -cert -out ${path("req.tsq")}`);
  await openssl(
    `ts -reply -config ${path("ts.cnf")} -queryfile ${path("req.tsq")} -signer ${pki.tsaCert} ` +
      `-inkey ${pki.tsaKey} -chain ${pki.rootCert} -token_out -out ${path("token.der")}`,
  );
  return readFileSync(path("token.der"));
}

async function coveredFile(
  prepared: PreparedSignature,
  pki: TestPki,
): Promise<{ work: string; covered: string }> {
  const work = mkdtempSync(join(pki.dir, "sign-"));
  const covered = join(work, "covered.bin");
  await writeCovered(prepared.output(prepared.revision), prepared.byteRange, covered);
  return { work, covered };
}

/** Signs `input` once (prepare, openssl CMS, embed) and returns the whole signed file. */
export async function signBytes(
  input: Uint8Array,
  pki: TestPki,
  options: Partial<SignatureOptions> = {},
  open: OpenOptions = {},
): Promise<{ signed: Buffer; prepared: PreparedSignature }> {
  const doc = await openPdf(new BufferSource(input), open);
  const prepared = await prepareSignature(doc, { contentsSize: 8192, reason: "unit test", ...options });
  const revision = prepared.embed(await opensslCms(prepared, pki));
  return { signed: Buffer.concat([input, revision]), prepared };
}

/** The code a promise rejects with (undefined when it resolves). */
export async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  return (await errorOf(promise)).code;
}

/** The error a promise rejects with, for asserting its code and message (empty when it resolves). */
export async function errorOf(promise: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await promise;
    return {};
  } catch (error) {
    const failure = error as { code?: string; message?: string };
    return { code: failure.code ?? String(error), message: failure.message };
  }
}

export function pemToDer(file: string): Buffer {
  return Buffer.from(readFileSync(file, "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64");
}

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/**
 * Assembles a PDF from object bodies (object N is objects[N-1]) with a correct classic xref,
 * so each test damages exactly one thing.
 */
export function buildPdf(objects: Array<string | Buffer>, trailerExtra = ""): Buffer {
  const parts: Buffer[] = [Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((body, index) => {
    offsets.push(length);
    const chunk = Buffer.concat([
      Buffer.from(`${index + 1} 0 obj\n`),
      typeof body === "string" ? Buffer.from(body, "latin1") : body,
      Buffer.from("\nendobj\n"),
    ]);
    parts.push(chunk);
    length += chunk.length;
  });
  const rows = offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n\r\n`).join("");
  const xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f\r\n${rows}`;
  const trailer = `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailerExtra}>>\nstartxref\n${length}\n%%EOF\n`;
  parts.push(Buffer.from(xref + trailer, "latin1"));
  return Buffer.concat(parts);
}
