import { execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ErrorCode, isEsignError } from "@esign/errors";
import {
  checkOcspResponse,
  type PdfVerificationReport,
  TsaClient,
  verifyPdfSignatures,
  vriKey,
} from "@esign/pades";
import { createTestPki, writeTestPki } from "@esign/pades/testing";
import { BufferSource, openPdf, signatureFields } from "@esign/pdf";
import { signPdf, writeSignedPdf } from "@esign/pipeline";
import {
  createCscSigner,
  createPkcs11Signer,
  EsignApiSigner,
  type PadesLevel,
  type Signer,
} from "@esign/signers";
import { REPO_ROOT, validate } from "@esign/testkit";
import { type Simulator, startSimulator } from "esign-sim";
import { PDFDocument, PDFName, PDFString } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const LEVELS: PadesLevel[] = ["B-B", "B-T", "B-LT", "B-LTA"];
const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
/** Embedded in the test PDF: it must never show up in anything the signing service received. */
const MARKER = `esign-remote-marker-${process.pid}-${Date.now()}`;

let sim: Simulator;
let dir: string;
let rootPath: string;
let input: Uint8Array;
let inputPath: string;
let tsa: TsaClient;

async function markedPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.addPage([300, 200]).drawText("remote signing test", { x: 20, y: 100, size: 12 });
  doc.catalog.set(PDFName.of("EsignTestMarker"), PDFString.of(MARKER));
  return doc.save({ useObjectStreams: false });
}

function pem(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

function cscSigner(credentialId: string, extra: Partial<Parameters<typeof createCscSigner>[0]> = {}) {
  return createCscSigner({
    url: `${sim.url}/csc/v2`,
    clientId: "demo",
    clientSecret: "demo-secret",
    credentialId,
    timestamper: tsa,
    ...extra,
  });
}

/** The CLI flags a customer gives for the simulator's CSC API and one of its credentials. */
function cscFlags(credential: string): string[] {
  return [
    "--signer",
    "csc",
    "--url",
    `${sim.url}/csc/v2`,
    "--client-id",
    "demo",
    "--client-secret",
    "demo-secret",
    "--credential",
    credential,
  ];
}

async function signTo(signer: Signer, level: PadesLevel, name: string): Promise<string> {
  const signed = await signPdf(new BufferSource(input), signer, { level, documentTimestamper: tsa });
  expect(signed.revisions).toHaveLength({ "B-B": 1, "B-T": 1, "B-LT": 2, "B-LTA": 3 }[level]);
  // Every backend's B-LT and B-LTA come out "LTV enabled"; below, no judgement and no warning.
  const ltv = level === "B-LT" || level === "B-LTA" ? { ltvEnabled: true, gaps: [] } : undefined;
  expect(signed.ltv).toEqual(ltv);
  expect(signed.warnings).toEqual([]);
  const path = join(dir, `${name}-${level}.pdf`);
  await writeSignedPdf(signed.output, path);
  return path;
}

/**
 * validate.sh passes every check and finds the level's markers (time-stamp, /DSS, /DocTimeStamp).
 * `pdfPassword` opens an encrypted output.
 */
async function expectValidAt(path: string, level: PadesLevel, pdfPassword?: string): Promise<void> {
  const result = await validate(path, rootPath, { pdfPassword });
  expect(result.failures, result.output).toEqual([]);
  expect(result.ok, result.output).toBe(true);
  expect(result.output).toMatch(new RegExp(`pades-level\\s+INFO markers suggest PAdES ${level} `));
  if (level !== "B-B") expect(result.output).toMatch(/openssl-ts\s+PASS/);
  if (level === "B-LT" || level === "B-LTA") expect(result.output).toMatch(/\/DSS present: .*VRI entries 1/);
  if (level === "B-LTA") expect(result.output).toMatch(/openssl-ts-doc\s+PASS/);

  const report = await verifyPdfSignatures(new BufferSource(await readFile(path)), {
    trustRoots: [new Uint8Array(new X509Certificate(await readFile(rootPath)).raw)],
    password: pdfPassword,
  });
  const signature = report.signatures.find((entry) => entry.type === "Sig");
  expect(signature?.valid, signature?.problems.join("; ")).toBe(true);
  expect(signature?.level).toBe(level);
  if (level === "B-LT" || level === "B-LTA") {
    await expectVriOfFirstSignature(path, pdfPassword);
    expectLongTermValidatable(report);
  }
}

/**
 * Issue 16's promise to relying parties: a B-LT (or B-LTA) output validates to TOTAL-PASSED and is
 * LTV enabled, i.e. the embedded data alone proves every certificate on every path good, the
 * time-stamp's and the OCSP responder's included.
 */
function expectLongTermValidatable(report: PdfVerificationReport): void {
  const signatures = report.signatures.filter((entry) => entry.type === "Sig");
  expect(signatures).not.toHaveLength(0);
  for (const signature of signatures) {
    const why = JSON.stringify({ ltvGaps: signature.ltvGaps, findings: signature.findings });
    expect(signature.ltvEnabled, why).toBe(true);
    expect(signature.indication, why).toBe("TOTAL-PASSED");
  }
}

/** The /VRI key is the SHA-1 of the first signature's /Contents as embedded, padding included. */
async function expectVriOfFirstSignature(path: string, password?: string): Promise<void> {
  const doc = await openPdf(new BufferSource(await readFile(path)), { password });
  const [first] = (await signatureFields(doc)).filter((field) => field.signature?.type === "Sig");
  const dss = await doc.resolveDict((await doc.catalog()).get("DSS"));
  const vri = await doc.resolveDict(dss?.get("VRI"));
  expect([...(vri?.entries.keys() ?? [])]).toEqual([vriKey(first!.signature!.contents)]);
}

async function expectEsignError(promise: Promise<unknown>, code: ErrorCode) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isEsignError(error) ? error.code : error).toBe(code);
  return error as { retryAfter?: number; permanent: boolean };
}

function cli(args: string[], env: Record<string, string> = {}) {
  return run("pnpm", ["-s", "esign", "sign", ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      stdout: error.stdout ?? "",
      stderr: error.stderr ?? "",
    }),
  );
}

/**
 * Runs `esign sign INPUT -o OUTPUT ...flags` and checks the output is valid at `level`; with a
 * `pdfPassword`, INPUT is an encrypted copy of the test PDF and the password is passed along.
 */
async function expectCliSigns(
  output: string,
  flags: string[],
  level: PadesLevel,
  env: Record<string, string> = {},
  pdfPassword?: string,
) {
  let source = inputPath;
  if (pdfPassword !== undefined) {
    source = join(dir, "input-encrypted.pdf");
    await run("qpdf", ["--encrypt", pdfPassword, "owner-pw", "256", "--", inputPath, source]);
  }
  const passwordFlags = pdfPassword === undefined ? [] : ["--pdf-password", pdfPassword];
  const result = await cli([source, "-o", output, ...flags, ...passwordFlags, "--level", level], env);
  expect(result.stderr).toContain("signed");
  expect(result.code).toBe(0);
  // The simulator's certificates name their OCSP responder and CRLs: nothing to warn about.
  expect(result.stderr).not.toMatch(/^warning:/m);
  if (level === "B-LT" || level === "B-LTA") expect(result.stderr).toMatch(/, LTV enabled\)$/m);
  await expectValidAt(output, level, pdfPassword);
}

beforeAll(async () => {
  sim = await startSimulator();
  dir = await mkdtemp(join(tmpdir(), "esign-remote-"));
  rootPath = join(dir, "root.pem");
  await writeFile(rootPath, await (await fetch(`${sim.url}/pki/root.pem`)).text());
  input = await markedPdf();
  expect(Buffer.from(input).includes(MARKER)).toBe(true);
  inputPath = join(dir, "input.pdf");
  await writeFile(inputPath, input);
  tsa = new TsaClient({ urls: [`${sim.url}/tsa`] });
});

afterAll(async () => {
  await sim?.close();
});

describe("csc backend", () => {
  it.each(LEVELS)("signs at %s with an RSA seal", async (level) => {
    await expectValidAt(await signTo(cscSigner("seal-rsa"), level, "csc-rsa"), level);
  });

  it("signs at B-LTA with an ECDSA seal", async () => {
    await expectValidAt(await signTo(cscSigner("seal-ec"), "B-LTA", "csc-ec"), "B-LTA");
  });

  it("authorizes an explicit credential with PIN and a sent OTP, several hashes in one signHash call", async () => {
    const signer = cscSigner("alice-rsa", {
      pin: "1234",
      requestOtp: async () => sim.currentOtp("alice-rsa") ?? "",
    });
    const before = sim.requests().length;
    const digests = [1, 2, 3].map((n) => new Uint8Array(32).fill(n));
    const results = await signer.signBatch(
      digests.map((documentDigest) => ({ documentDigest, digestAlgorithm: "sha256", level: "B-B" })),
    );
    expect(results).toHaveLength(3);
    const calls = sim.requests().slice(before);
    const signHash = calls.filter((call) => call.path.endsWith("/signatures/signHash"));
    expect(signHash).toHaveLength(1);
    expect(signHash[0]!.fields?.hashes).toHaveLength(3);
    expect(calls.map((call) => call.path)).toContain("/csc/v2/credentials/sendOTP");

    const path = await signTo(signer, "B-T", "csc-alice");
    await expectValidAt(path, "B-T");
  });

  it("splits a batch larger than the credential's multisign into several authorized signHash calls", async () => {
    let otpsAsked = 0;
    const signer = cscSigner("alice-rsa", {
      pin: "1234",
      requestOtp: async () => {
        otpsAsked++;
        return sim.currentOtp("alice-rsa") ?? "";
      },
    });
    const before = sim.requests().length;
    const requests = Array.from({ length: 12 }, (_, n) => ({
      documentDigest: new Uint8Array(32).fill(n + 1),
      digestAlgorithm: "sha256" as const,
      level: "B-B" as const,
    }));
    expect(await signer.signBatch(requests)).toHaveLength(12);
    const sizes = sim
      .requests()
      .slice(before)
      .filter((call) => call.path.endsWith("/signatures/signHash"))
      .map((call) => (call.fields?.hashes as unknown[] | undefined)?.length);
    expect(sizes).toEqual([10, 2]);
    expect(otpsAsked).toBe(2);
  });

  it("sends an Idempotency-Key per signHash call: a repeated call is replayed, not billed; a batch keys on its contents", async () => {
    const signer = cscSigner("seal-rsa");
    await signer.describe();
    const requests = [1, 2, 3].map((n) => ({
      documentDigest: new Uint8Array(32).fill(0x40 + n),
      digestAlgorithm: "sha256" as const,
      level: "B-B" as const,
      idempotencyKey: `csc-idem-${process.pid}-${n}`,
    }));
    const billedBefore = sim.usage().clients.demo?.signatures ?? 0;
    const first = await signer.signBatch(requests);
    expect(first.map((result) => result.replayed)).toEqual([undefined, undefined, undefined]);
    const again = await signer.signBatch(requests);
    expect(again.map((result) => result.replayed)).toEqual([true, true, true]);
    expect(again.map((result) => Buffer.from(result.cms).toString("hex"))).toEqual(
      first.map((result) => Buffer.from(result.cms).toString("hex")),
    );
    // One request alone is another call (its key is its own, not the batch's): billed once, then replayed.
    const alone = await signer.sign(requests[0]!);
    expect(alone.replayed).toBeUndefined();
    expect((await signer.sign(requests[0]!)).replayed).toBe(true);
    expect(sim.usage().clients.demo!.signatures - billedBefore).toBe(4);
  });

  it("reports a revoked credential as E_SIGNER_REVOKED", async () => {
    const other = await startSimulator({ pki: sim.pki });
    try {
      await other.revokeCredential("seal-ec");
      const signer = createCscSigner({
        url: `${other.url}/csc/v2`,
        clientId: "demo",
        clientSecret: "demo-secret",
        credentialId: "seal-ec",
      });
      await expectEsignError(signer.describe(), "E_SIGNER_REVOKED");
    } finally {
      await other.close();
    }
  });

  it("asks the service for an OTP and reads it from stdin with --send-otp", async () => {
    const output = join(dir, "cli-csc-otp.pdf");
    const child = spawn(
      "pnpm",
      [
        "-s",
        "esign",
        "sign",
        inputPath,
        "-o",
        output,
        ...cscFlags("alice-rsa"),
        "--pin",
        "1234",
        "--send-otp",
      ],
      { cwd: REPO_ROOT },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("one-time password:") && child.stdin.writable) {
        child.stdin.end(`${sim.currentOtp("alice-rsa")}\n`);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toContain("signed");
    expect(code).toBe(0);
    await expectValidAt(output, "B-B");
  });

  it("refuses an explicit credential without its PIN before any signature is asked", async () => {
    await expectEsignError(
      signPdf(new BufferSource(input), cscSigner("alice-rsa", { otp: "000000" }), { level: "B-B" }),
      "E_CONFIG",
    );
  });

  it("maps the service's failures to error codes", async () => {
    await expectEsignError(cscSigner("seal-rsa", { clientSecret: "wrong" }).describe(), "E_SIGNER_AUTH");
    await expectEsignError(cscSigner("no-such-credential").describe(), "E_SIGNER_REJECTED");

    sim.setFaults({ routes: ["csc"], rateLimitBurst: { count: 1, retryAfterSeconds: 7 } });
    const limited = await expectEsignError(cscSigner("seal-rsa").describe(), "E_SIGNER_RATE_LIMITED");
    expect(limited.retryAfter).toBe(7);

    sim.setFaults({ routes: ["csc"], errorRate: 1, errorStatus: 503 });
    const unavailable = await expectEsignError(cscSigner("seal-rsa").describe(), "E_SIGNER_UNAVAILABLE");
    expect(unavailable.permanent).toBe(false);

    sim.setFaults({ routes: ["csc"], malformedRate: 1 });
    await expectEsignError(cscSigner("seal-rsa").describe(), "E_SIGNER_BAD_RESPONSE");

    sim.setFaults({ routes: ["csc"], hangRate: 1 });
    await expectEsignError(cscSigner("seal-rsa", { timeoutMs: 300 }).describe(), "E_SIGNER_UNAVAILABLE");
    sim.clearFaults();
  });

  it("catches a wrong signature and writes nothing", async () => {
    const signer = cscSigner("seal-rsa");
    await signer.describe();
    sim.setFaults({ routes: ["sign"], wrongSignatureRate: 1 });
    try {
      await expectEsignError(
        signPdf(new BufferSource(input), signer, { level: "B-T" }),
        "E_SIGNATURE_MISMATCH",
      );
      const output = join(dir, "csc-wrong.pdf");
      const result = await cli([inputPath, "-o", output, ...cscFlags("seal-rsa")]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("E_SIGNATURE_MISMATCH");
      expect(existsSync(output)).toBe(false);
    } finally {
      sim.clearFaults();
    }
  });

  it("works from the CLI at B-LTA", async () => {
    await expectCliSigns(
      join(dir, "cli-csc.pdf"),
      [...cscFlags("seal-ec"), "--tsa", `${sim.url}/tsa`],
      "B-LTA",
    );
  });
});

describe("esign-api backend", () => {
  const esignApi = () => new EsignApiSigner({ url: sim.url, apiKey: "demo-key", credentialId: "seal-rsa" });

  it.each(LEVELS)("signs at %s", async (level) => {
    await expectValidAt(await signTo(esignApi(), level, "esign-api"), level);
  });

  it("returns validation data that proves the signer certificate good, and only that one", async () => {
    const { ltv } = await esignApi().sign({
      documentDigest: new Uint8Array(32).fill(7),
      digestAlgorithm: "sha256",
      level: "B-LT",
    });
    const signerCertificate = sim.pki.credentials.get("seal-rsa")!.der;
    const issuer = sim.pki.issuing.der;
    const [signerStatus] = ltv!.ocsps;
    expect(checkOcspResponse(signerStatus!, signerCertificate, issuer).response).toBe(signerStatus);
    expect(() => checkOcspResponse(signerStatus!, sim.pki.credentials.get("seal-ec")!.der, issuer)).toThrow(
      /not about/,
    );
    expect(() => checkOcspResponse(signerStatus!, signerCertificate, sim.pki.root.der)).toThrow(/not signed/);
  });

  it("sends the request's Idempotency-Key: the same call again is replayed, not billed; another digest under it is refused", async () => {
    const signer = new EsignApiSigner({
      url: sim.url,
      apiKey: "demo-key",
      credentialId: "seal-rsa",
      certificate: sim.pki.credentials.get("seal-rsa")!.der,
    });
    const request = {
      documentDigest: new Uint8Array(32).fill(0x51),
      digestAlgorithm: "sha256" as const,
      level: "B-T" as const,
      idempotencyKey: `esign-api-idem-${process.pid}`,
    };
    const billedBefore = sim.usage().clients.demo?.signatures ?? 0;
    const first = await signer.sign(request);
    const again = await signer.sign(request);
    expect(first.replayed).toBeUndefined();
    expect(again.replayed).toBe(true);
    expect(Buffer.from(again.cms).equals(Buffer.from(first.cms))).toBe(true);
    expect(sim.usage().clients.demo!.signatures - billedBefore).toBe(1);
    await expectEsignError(
      signer.sign({ ...request, documentDigest: new Uint8Array(32).fill(0x52) }),
      "E_SIGNER_REJECTED",
    );
  });

  it("sizes /Contents with one probe per signer and learns the certificate from it", async () => {
    const signer = esignApi();
    const before = sim.requests().length;
    await signPdf(new BufferSource(input), signer, { level: "B-T" });
    await signPdf(new BufferSource(input), signer, { level: "B-LT" });
    const levels = sim
      .requests()
      .slice(before)
      .filter((call) => call.path === "/esign/v1/sign")
      .map((call) => call.fields?.level);
    // The probe, then one call per document: B-T and B-LT CMS share a size (the same time-stamp).
    expect(levels).toEqual(["B-T", "B-T", "B-LT"]);
  });

  it("catches a wrong signature and refuses a certificate other than the pinned one", async () => {
    sim.setFaults({ routes: ["cms"], wrongSignatureRate: 1 });
    try {
      await expectEsignError(
        signPdf(new BufferSource(input), esignApi(), { level: "B-B" }),
        "E_SIGNATURE_MISMATCH",
      );
    } finally {
      sim.clearFaults();
    }
    const otherCertificate = new EsignApiSigner({
      url: sim.url,
      apiKey: "demo-key",
      credentialId: "seal-rsa",
      certificate: sim.pki.credentials.get("seal-ec")!.der,
    });
    await expectEsignError(
      otherCertificate.sign({ documentDigest: new Uint8Array(32), digestAlgorithm: "sha256", level: "B-B" }),
      "E_SIGNER_BAD_RESPONSE",
    );
    await expectEsignError(
      new EsignApiSigner({ url: sim.url, apiKey: "wrong", credentialId: "seal-rsa" }).describe(),
      "E_SIGNER_AUTH",
    );
  });

  it("works from the CLI at B-LT", async () => {
    const flags = [
      "--signer",
      "esign-api",
      "--url",
      sim.url,
      "--api-key",
      "demo-key",
      "--credential",
      "seal-ec",
    ];
    await expectCliSigns(join(dir, "cli-esign-api.pdf"), flags, "B-LT");
  });
});

describe("pkcs11 backend (SoftHSM2)", () => {
  let hsmEnv: Record<string, string>;
  let slot: number;
  const keyLabels = { "seal-rsa": "seal-rsa-key", "seal-ec": "seal-ec-key" } as const;

  beforeAll(async () => {
    const hsmDir = join(dir, "softhsm");
    const config = join(dir, "softhsm2.conf");
    await run("mkdir", ["-p", join(hsmDir, "tokens")]);
    await writeFile(config, `directories.tokendir = ${join(hsmDir, "tokens")}\nobjectstore.backend = file\n`);
    hsmEnv = { SOFTHSM2_CONF: config };
    process.env.SOFTHSM2_CONF = config;
    const init = await run(
      "softhsm2-util",
      ["--init-token", "--free", "--label", "esign", "--pin", "1234", "--so-pin", "5678"],
      {
        env: { ...process.env, ...hsmEnv },
      },
    );
    slot = Number(/slot (\d+)/.exec(init.stdout)![1]);
    for (const [credential, label] of Object.entries(keyLabels)) {
      const keyPath = join(dir, `${label}.der`);
      const key = sim.pki.credentials.get(credential)!.key.privateKey;
      await writeFile(keyPath, key.export({ type: "pkcs8", format: "der" }));
      await run(
        "pkcs11-tool",
        [
          "--module",
          SOFTHSM_MODULE,
          "--login",
          "--pin",
          "1234",
          "--write-object",
          keyPath,
          "--type",
          "privkey",
          "--label",
          label,
          "--id",
          credential === "seal-rsa" ? "01" : "02",
        ],
        { env: { ...process.env, ...hsmEnv } },
      );
      await writeFile(
        join(dir, `${credential}.pem`),
        pem(sim.pki.credentials.get(credential)!.der) + pem(sim.pki.issuing.der),
      );
    }
  });

  function hsmSigner(credential: keyof typeof keyLabels) {
    return createPkcs11Signer({
      module: SOFTHSM_MODULE,
      slot,
      pin: "1234",
      keyLabel: keyLabels[credential],
      certificate: sim.pki.credentials.get(credential)!.der,
      chain: [sim.pki.issuing.der],
      timestamper: tsa,
    });
  }

  it.each(LEVELS)("signs at %s with an ECDSA key on the token", async (level) => {
    const signer = hsmSigner("seal-ec");
    try {
      await expectValidAt(await signTo(signer, level, "pkcs11-ec"), level);
    } finally {
      await signer.close();
    }
  });

  it("signs with an RSA key on the token and refuses a wrong PIN", async () => {
    const signer = hsmSigner("seal-rsa");
    try {
      await expectValidAt(await signTo(signer, "B-T", "pkcs11-rsa"), "B-T");
    } finally {
      await signer.close();
    }
    const wrongPin = createPkcs11Signer({
      module: SOFTHSM_MODULE,
      slot,
      pin: "9999",
      keyLabel: keyLabels["seal-rsa"],
      certificate: sim.pki.credentials.get("seal-rsa")!.der,
    });
    await expectEsignError(signPdf(new BufferSource(input), wrongPin, { level: "B-B" }), "E_SIGNER_AUTH");
  });

  it("works from the CLI at B-LT", async () => {
    await expectCliSigns(
      join(dir, "cli-pkcs11.pdf"),
      [
        "--signer",
        "pkcs11",
        "--module",
        SOFTHSM_MODULE,
        "--slot",
        String(slot),
        "--pin",
        "1234",
        "--key-label",
        keyLabels["seal-rsa"],
        "--cert",
        join(dir, "seal-rsa.pem"),
        "--tsa",
        `${sim.url}/tsa`,
      ],
      "B-LT",
      hsmEnv,
    );
  });
});

describe("p12 backend with a TSA", () => {
  /** CLI flags for a local key: the simulator's seal-rsa credential written to files, and its TSA. */
  async function localKeyFlags(): Promise<string[]> {
    const credential = sim.pki.credentials.get("seal-rsa")!;
    const keyPath = join(dir, "p12-key.pem");
    const certPath = join(dir, "p12-cert.pem");
    const chainPath = join(dir, "p12-chain.pem");
    await writeFile(keyPath, credential.key.privateKey.export({ type: "pkcs8", format: "pem" }));
    await writeFile(certPath, pem(credential.der));
    await writeFile(chainPath, pem(sim.pki.issuing.der));
    return ["--key", keyPath, "--cert", certPath, "--chain", chainPath, "--tsa", `${sim.url}/tsa`];
  }

  it("signs at B-LTA from the CLI, fetching revocation data from the certificates' URLs", async () => {
    const requestsBefore = sim.requests().length;
    const flags = await localKeyFlags();
    await expectCliSigns(join(dir, "cli-p12.pdf"), flags, "B-LTA");
    const fetched = sim
      .requests()
      .slice(requestsBefore)
      .map((entry) => `${entry.method} ${entry.path}`);
    expect(fetched).toContain("POST /ocsp");
  });

  it("warns before signing at B-LT with a key whose chain names no OCSP or CRL URL, naming each certificate", async () => {
    const pki = await writeTestPki(
      await createTestPki({ intermediate: true }),
      join(dir, "no-url-pki"),
      "pw",
    );
    const output = join(dir, "cli-no-url.pdf");
    const flags = ["--p12", pki.p12, "--password", "pw", "--tsa", `${sim.url}/tsa`, "--level", "B-LT"];
    const result = await cli([inputPath, "-o", output, ...flags]);
    const lines = result.stderr.trim().split("\n");
    expect(lines.slice(0, 2)).toEqual([
      expect.stringMatching(
        /^warning: B-LT cannot reach LTV: CN=Test Signer, .* lacks an OCSP responder or CRL/,
      ),
      expect.stringMatching(/^warning: B-LT cannot reach LTV: CN=esign test issuing CA, /),
    ]);
    // With no signing service to bring the revocation data, B-LT then cannot be completed.
    expect(lines[2]).toMatch(/^error: E_REVOCATION: CN=(Test Signer|esign test issuing CA)/);
    expect(result.code).toBe(2);
    expect(existsSync(output)).toBe(false);
  });

  it("signs an AES-256 encrypted PDF at B-LTA from the CLI with --pdf-password", async () => {
    await expectCliSigns(join(dir, "cli-encrypted.pdf"), await localKeyFlags(), "B-LTA", {}, "user-pw");
  });
});

describe("time-stamp client", () => {
  it("fails over to the next TSA and reports E_TSA when none answers", async () => {
    const closed = await startSimulator({ pki: sim.pki });
    const deadUrl = `${closed.url}/tsa`;
    await closed.close();
    const failover = new TsaClient({ urls: [deadUrl, `${sim.url}/tsa`], timeoutMs: 2000 });
    const token = await failover.timestamp(new Uint8Array([1, 2, 3]));
    expect(token.length).toBeGreaterThan(500);
    await expectEsignError(new TsaClient({ urls: [deadUrl] }).timestamp(new Uint8Array(1)), "E_TSA");

    sim.setFaults({ routes: ["tsa"], malformedRate: 1 });
    try {
      await expectEsignError(
        new TsaClient({ urls: [`${sim.url}/tsa`] }).timestamp(new Uint8Array(1)),
        "E_TSA",
      );
    } finally {
      sim.clearFaults();
    }
  });
});

describe("what the signing service saw", () => {
  it("only digests and ids: no large body, no document bytes", async () => {
    const response = await fetch(`${sim.url}/admin/requests`);
    const log = (await response.json()) as { path: string; bodyBytes: number }[];
    const signingCalls = log.filter((entry) => /signHash|esign\/v1\/sign/.test(entry.path));
    expect(signingCalls.length).toBeGreaterThan(10);
    for (const entry of log) expect(entry.bodyBytes, entry.path).toBeLessThan(4096);
    expect(JSON.stringify(log)).not.toContain(MARKER);
    // The marker is in the PDF; a document upload would carry it (the log keeps short strings verbatim).
    expect((await readFile(inputPath)).includes(MARKER)).toBe(true);
  });
});
