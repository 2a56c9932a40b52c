import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ErrorCode, isEsignError } from "@esign/errors";
import { verifyPdfSignatures, vriKey } from "@esign/pades";
import {
  createOpensslTimestamper,
  createTestPki,
  issueCrl,
  issueTsaCertificate,
  type TestPki,
  toPem,
} from "@esign/pades/testing";
import {
  asArray,
  BufferSource,
  type ByteSource,
  openPdf,
  type PdfStream,
  readChunks,
  signatureFields,
} from "@esign/pdf";
import { CmsBuildingSigner, LocalKeyProvider, type LtvMaterial, type Signer } from "@esign/signers";
import { REPO_ROOT, run, SAMPLES_DIR, validate } from "@esign/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { complete, PreparedSchema, prepare, signPdf, signRequestOf, verifyOutput } from "../src";

let dir: string;
let pki: TestPki;
let rootPem: string;
let input: Uint8Array;
let signer: CmsBuildingSigner;
let timestamper: Awaited<ReturnType<typeof createOpensslTimestamper>>;
let ltv: LtvMaterial;
let signCalls = 0;

/** A signer that, like the E-sign API, hands over its own validation data with the CMS. */
function withLtvBundle(inner: Signer, bundle: LtvMaterial | undefined): Signer {
  return {
    describe: () => inner.describe(),
    estimateCmsSize: (level) => inner.estimateCmsSize(level),
    sign: async (request) => {
      signCalls++;
      return { ...(await inner.sign(request)), ...(bundle && { ltv: bundle }) };
    },
  };
}

async function bytesOf(output: ByteSource): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of readChunks(output)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isEsignError(error) ? error.code : error).toBe(code);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "esign-pipeline-levels-"));
  pki = await createTestPki({ keyType: "p256", intermediate: true });
  rootPem = join(dir, "root.pem");
  await writeFile(rootPem, toPem(pki.root.certificate));
  const { signer: identity } = pki;
  timestamper = await createOpensslTimestamper(await issueTsaCertificate(pki.root), join(dir, "tsa"));
  signer = new CmsBuildingSigner({
    provider: new LocalKeyProvider({
      privateKey: identity.privateKey,
      certificate: identity.certificate,
      chain: identity.chain,
      signatureAlgorithm: identity.signatureAlgorithm,
    }),
    timestamper,
  });
  ltv = {
    certs: [identity.certificate, ...identity.chain],
    ocsps: [],
    crls: [await issueCrl(pki.intermediate!), await issueCrl(pki.root)],
  };
  input = new Uint8Array(await readFile(join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf")));
});

describe("signPdf levels", () => {
  it("B-LTA: signature, /DSS from the signer's bundle with its /VRI, then a /DocTimeStamp", async () => {
    const signed = await signPdf(new BufferSource(input), withLtvBundle(signer, ltv), {
      level: "B-LTA",
      documentTimestamper: timestamper,
    });
    expect(signed.revisions).toHaveLength(3);
    const bytes = await bytesOf(signed.output);
    expect(bytes.length).toBe(input.length + signed.revisions.reduce((sum, r) => sum + r.length, 0));
    expect(Buffer.from(bytes.subarray(0, input.length)).equals(Buffer.from(input))).toBe(true);

    const doc = await openPdf(new BufferSource(bytes));
    const fields = (await signatureFields(doc)).filter((field) => field.signature);
    expect(fields.map((field) => field.signature!.type)).toEqual(["Sig", "DocTimeStamp"]);
    const dss = await doc.resolveDict((await doc.catalog()).get("DSS"));
    const vri = await doc.resolveDict(dss?.get("VRI"));
    expect([...(vri?.entries.keys() ?? [])]).toEqual([vriKey(fields[0]!.signature!.contents)]);
    const crls = asArray(await doc.resolve(dss?.get("CRLs"))) ?? [];
    const embeddedCrls = await Promise.all(
      crls.map(async (ref) => doc.streamBytes((await doc.resolve(ref)) as PdfStream)),
    );
    expect(embeddedCrls.map((crl) => Buffer.from(crl).toString("hex"))).toEqual(
      ltv.crls.map((crl) => Buffer.from(crl).toString("hex")),
    );

    // The test PKI names no revocation URLs: warned before signing; the bundle's CRLs cover it anyway.
    expect(signed.warnings).toEqual([
      expect.stringMatching(/^B-LTA cannot reach LTV: CN=Test Signer,.* lacks an OCSP responder or CRL/),
      expect.stringMatching(/^B-LTA cannot reach LTV: CN=esign test issuing CA,/),
    ]);
    expect(signed.ltv).toEqual({ ltvEnabled: true, gaps: [] });

    const file = join(dir, "b-lta.pdf");
    await writeFile(file, bytes);
    const result = await validate(file, rootPem);
    expect(result.failures, result.output).toEqual([]);
    expect(result.output).toMatch(/markers suggest PAdES B-LTA /);
  });

  it("refuses B-LTA without a time-stamp authority before the signer is asked", async () => {
    const before = signCalls;
    await expectCode(
      signPdf(new BufferSource(input), withLtvBundle(signer, ltv), { level: "B-LTA" }),
      "E_CONFIG",
    );
    expect(signCalls).toBe(before);
  });

  it("fails B-LT with E_REVOCATION when the certificates name no OCSP responder or CRL, having warned before signing", async () => {
    const warned: { warning: string; signCalls: number }[] = [];
    const counted = withLtvBundle(signer, undefined);
    await expectCode(
      signPdf(new BufferSource(input), counted, {
        level: "B-LT",
        onWarning: (warning) => warned.push({ warning, signCalls }),
      }),
      "E_REVOCATION",
    );
    expect(warned.map(({ warning }) => warning)).toEqual([
      expect.stringMatching(/^B-LT cannot reach LTV: CN=Test Signer,/),
      expect.stringMatching(/^B-LT cannot reach LTV: CN=esign test issuing CA,/),
    ]);
    // Told before the signer was asked.
    expect(warned.map((entry) => entry.signCalls)).toEqual([signCalls - 1, signCalls - 1]);
  });

  it("B-LT whose validation data covers no certificate: warned before signing, and not LTV enabled, naming each", async () => {
    const warned: string[] = [];
    const certificatesOnly = { certs: ltv.certs, ocsps: [], crls: [] };
    const signed = await signPdf(new BufferSource(input), withLtvBundle(signer, certificatesOnly), {
      level: "B-LT",
      onWarning: (warning) => warned.push(warning),
    });
    expect(signed.ltv?.ltvEnabled).toBe(false);
    const lacking = signed.ltv!.gaps.map((gap) => gap.certificate);
    expect(lacking.toSorted()).toEqual([
      expect.stringContaining("CN=Test Signer"),
      expect.stringContaining("CN=esign test TSA"),
      expect.stringContaining("CN=esign test issuing CA"),
    ]);
    expect(signed.ltv!.gaps.every((gap) => gap.missing.startsWith("revocation data"))).toBe(true);
    expect(signed.warnings).toEqual(warned);
    expect(warned.slice(2)).toEqual(
      lacking.map((subject) => expect.stringContaining(`not LTV enabled: ${subject} lacks`)),
    );
    // `esign verify --ltv` reads the file the same way.
    const report = await verifyPdfSignatures(new BufferSource(await bytesOf(signed.output)), {
      trustRoots: [pki.root.certificate],
    });
    expect(report.signatures[0]).toMatchObject({ ltvEnabled: false, ltvGaps: signed.ltv!.gaps });
  });

  it("with requireLtv, refuses before the signer is asked a chain that cannot reach LTV, naming the certificate", async () => {
    const before = signCalls;
    const refused = signPdf(new BufferSource(input), withLtvBundle(signer, ltv), {
      level: "B-LT",
      requireLtv: true,
    });
    await expect(refused).rejects.toThrow(/LTV is required and B-LT cannot reach LTV: CN=Test Signer,/);
    await expectCode(refused, "E_CERT");
    expect(signCalls).toBe(before);
  });
});

describe("encrypted inputs", () => {
  const USER = "user-pw";
  const OWNER = "owner-pw";
  const FIXTURES = join(REPO_ROOT, "packages/pdf/test/fixtures");

  /** qpdf's encryption of a fixture; `options` go between --encrypt's key length and `--`. */
  async function encrypted(
    fixture: string,
    keyLength: 128 | 256,
    options: string[] = [],
  ): Promise<Uint8Array> {
    const file = join(dir, `encrypted-${fixture}-${keyLength}-${options.join("")}.pdf`);
    const args = ["--encrypt", USER, OWNER, String(keyLength), ...options, "--"];
    await run("qpdf", ["--allow-weak-crypto", ...args, join(FIXTURES, fixture), file]);
    return new Uint8Array(await readFile(file));
  }

  async function expectValid(bytes: Uint8Array, label: string, pdfPassword: string): Promise<string> {
    const file = join(dir, `${label}.pdf`);
    await writeFile(file, bytes);
    const result = await validate(file, rootPem, { pdfPassword });
    expect(result.failures, result.output).toEqual([]);
    return result.output;
  }

  it("B-LTA on an AES-256 file, stage by stage: the password is given to each stage and kept by none", async () => {
    const source = new BufferSource(await encrypted("pdftex-objstm.pdf", 256));
    const options = { level: "B-LTA" as const, pdfPassword: USER, documentTimestamper: timestamper };
    const prepared = await prepare(source, signer, options);
    const checkpoint = JSON.stringify(prepared);
    expect(checkpoint).not.toContain(USER);
    const resumed = PreparedSchema.parse(JSON.parse(checkpoint));
    const result = await withLtvBundle(signer, ltv).sign(signRequestOf(resumed));
    const signed = await complete(source, resumed, result, options);
    await verifyOutput(signed.output, resumed, result, options);
    expect(signed.revisions).toHaveLength(3);
    const output = await expectValid(await bytesOf(signed.output), "encrypted-b-lta", USER);
    expect(output).toMatch(/markers suggest PAdES B-LTA /);
    // Without the password the output is as closed as the input was.
    await expectCode(verifyOutput(signed.output, resumed, result), "E_PASSWORD");
  });

  it("B-LT on an RC4-128 file opened with its owner password", async () => {
    const source = new BufferSource(await encrypted("gs-ps2pdf.pdf", 128, ["--use-aes=n"]));
    const signed = await signPdf(source, withLtvBundle(signer, ltv), { level: "B-LT", pdfPassword: OWNER });
    const output = await expectValid(await bytesOf(signed.output), "encrypted-b-lt", USER);
    expect(output).toMatch(/markers suggest PAdES B-LT /);
  });

  it("refuses, before the signer is asked, a level whose later revisions /P forbids", async () => {
    // Bit 6 clear, bit 9 set: the empty field may be filled, but B-LTA's time-stamp needs a new field.
    const source = new BufferSource(await encrypted("pdflib-empty-sig-field.pdf", 128, ["--annotate=n"]));
    const before = signCalls;
    const options = {
      pdfPassword: USER,
      documentTimestamper: timestamper,
      field: { fieldName: "ClientSignature" },
    };
    await expectCode(
      signPdf(source, withLtvBundle(signer, ltv), { ...options, level: "B-LTA" }),
      "E_PERMISSION",
    );
    await expectCode(signPdf(source, withLtvBundle(signer, ltv), { level: "B-B" }), "E_PASSWORD");
    expect(signCalls).toBe(before);
    const signed = await signPdf(source, withLtvBundle(signer, ltv), { ...options, level: "B-LT" });
    await expectValid(await bytesOf(signed.output), "encrypted-fill-b-lt", USER);
  });
});
