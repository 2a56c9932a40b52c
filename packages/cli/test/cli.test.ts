import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  createTestPki,
  issueCertificate,
  startOcspResponder,
  type TestPkiFiles,
  writeTestPki,
} from "@esign/pades/testing";
import { failuresUnderRoots, REPO_ROOT, run, SAMPLES_DIR, tamper, validate } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { esign } from "./esign";

const FIXTURES = join(REPO_ROOT, "packages/pdf/test/fixtures");
const PASSWORD = "s3cret pass";

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

let work: string;
let pki: TestPkiFiles;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "esign-cli-"));
  pki = await writeTestPki(await createTestPki({ intermediate: true }), join(work, "pki"), PASSWORD);
});

async function signWithP12(input: string, output: string, extra: string[] = []) {
  return esign(["sign", input, "-o", output, "--p12", pki.p12, "--password", PASSWORD, ...extra]);
}

describe("esign sign", () => {
  const inputs = [
    ...readdirSync(SAMPLES_DIR)
      .filter((f) => f.endsWith(".pdf"))
      .map((f) => join(SAMPLES_DIR, f)),
    ...readdirSync(FIXTURES)
      .filter((f) => f.endsWith(".pdf"))
      .map((f) => join(FIXTURES, f)),
  ];

  it("has real-world samples and producer fixtures to sign", () => {
    expect(inputs.length).toBeGreaterThan(10);
  });

  it.each(inputs)("signs %s into a file validate.sh accepts, input untouched", async (input) => {
    const output = join(work, `signed-${basename(input)}`);
    const before = await sha256(input);
    const result = await signWithP12(input, output, ["--reason", "Approved", "--location", "Berlin"]);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(await sha256(input)).toBe(before);
    // A file that arrived signed keeps its own root: judge each signature under its own trust anchor.
    const roots = basename(input).startsWith("already-signed")
      ? [pki.rootPem, join(SAMPLES_DIR, "already-signed-poppler.root.pem")]
      : [pki.rootPem];
    const verdict = await failuresUnderRoots(output, roots);
    expect(verdict.failures, verdict.output).toEqual([]);
  });

  it("works as documented: pnpm -s esign sign, then pnpm -s esign verify", async () => {
    const output = join(work, "via-pnpm.pdf");
    const input = join(SAMPLES_DIR, "chromium-invoice.pdf");
    const signed = await esign(
      ["sign", input, "-o", output, "--p12", pki.p12, "--password", PASSWORD],
      "pnpm",
    );
    expect(signed, signed.stderr).toMatchObject({ code: 0 });
    const verified = await esign(["verify", output, "--trust", pki.rootPem], "pnpm");
    expect(verified, verified.stderr).toMatchObject({ code: 0 });
    expect(verified.stdout).toMatch(/^OK$/m);
  });

  it("keeps all three signatures valid when a file is signed three times", async () => {
    let current = join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf");
    for (const round of [1, 2, 3]) {
      const next = join(work, `thrice-${round}.pdf`);
      expect((await signWithP12(current, next)).code).toBe(0);
      current = next;
    }
    const verdict = await validate(current, pki.rootPem);
    expect(verdict.failures, verdict.output).toEqual([]);
    expect(verdict.output).toContain("sig#3");
    expect(verdict.output.match(/openssl-cms\s+PASS/g)).toHaveLength(3);
  });

  it("certifies, then adds an approval signature, and both stay valid", async () => {
    const certified = join(work, "certified.pdf");
    const approved = join(work, "certified-approved.pdf");
    expect(
      (await signWithP12(join(FIXTURES, "pdflib-classic.pdf"), certified, ["--certify", "2"])).code,
    ).toBe(0);
    expect((await signWithP12(certified, approved, ["--field", "Approval"])).code).toBe(0);
    const verdict = await validate(approved, pki.rootPem);
    expect(verdict.failures, verdict.output).toEqual([]);
    expect(verdict.output.match(/openssl-cms\s+PASS/g)).toHaveLength(2);
  });

  it("refuses a document certified with no changes allowed (P=1)", async () => {
    const locked = join(work, "locked.pdf");
    expect((await signWithP12(join(FIXTURES, "pdflib-classic.pdf"), locked, ["--certify", "1"])).code).toBe(
      0,
    );
    const result = await signWithP12(locked, join(work, "locked-again.pdf"));
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^error: E_DOCMDP_LOCKED: /);
  });
});

describe("esign sign on bad input", () => {
  const png = Buffer.from(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
      "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082",
    "hex",
  );

  async function badInputs(): Promise<Record<string, string>> {
    const sample = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
    const files: Record<string, Uint8Array> = {
      "zero-bytes.pdf": new Uint8Array(0),
      "png-renamed.pdf": png,
      "truncated.pdf": sample.subarray(0, Math.floor(sample.length / 2)),
    };
    const paths: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(files)) {
      paths[name] = join(work, name);
      await writeFile(paths[name], bytes);
    }
    paths["encrypted.pdf"] = join(work, "encrypted.pdf");
    await run("qpdf", [
      "--encrypt",
      "user",
      "owner",
      "256",
      "--",
      join(FIXTURES, "pdflib-classic.pdf"),
      paths["encrypted.pdf"],
    ]);
    return paths;
  }

  it("exits 2 with one `error: CODE: message` line, writes nothing and leaves the input untouched", async () => {
    const expected: Record<string, RegExp> = {
      "zero-bytes.pdf": /^error: E_NOT_PDF: /,
      "png-renamed.pdf": /^error: E_NOT_PDF: /,
      "truncated.pdf": /^error: E_PDF_CORRUPT: /,
      "encrypted.pdf": /^error: E_PASSWORD: /,
    };
    const inputs = await badInputs();
    for (const [name, input] of Object.entries(inputs)) {
      const before = await sha256(input);
      const output = join(work, `out-${name}`);
      const result = await signWithP12(input, output);
      expect(await sha256(input), name).toBe(before);
      // A file cut in half whose remaining objects still make a whole document is recovered by
      // scanning; then the only right answer is a signature that validates.
      if (name === "truncated.pdf" && result.code === 0) {
        const verdict = await validate(output, pki.rootPem);
        expect(verdict.failures, verdict.output).toEqual([]);
        continue;
      }
      expect(result.code, name).toBe(2);
      expect(result.stderr.trim().split("\n"), name).toHaveLength(1);
      expect(result.stderr.trim(), name).toMatch(expected[name]!);
      await expect(readFile(output), name).rejects.toThrow(/ENOENT/);
    }
  });

  it("reports a wrong PKCS#12 password as E_KEY and an unknown field option as a usage error", async () => {
    const input = join(FIXTURES, "pdflib-classic.pdf");
    const wrong = await esign([
      "sign",
      input,
      "-o",
      join(work, "x.pdf"),
      "--p12",
      pki.p12,
      "--password",
      "nope",
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toMatch(/^error: E_KEY: /);
    const usage = await esign(["sign", input, "-o", join(work, "y.pdf"), "--bogus"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim()).toMatch(/^error: E_CONFIG: /);
  });

  it("never overwrites its input, even when asked to", async () => {
    const input = join(work, "keep-me.pdf");
    await copyFile(join(FIXTURES, "pdflib-classic.pdf"), input);
    const before = await sha256(input);
    const result = await signWithP12(input, input);
    expect(result.code).toBe(2);
    expect(await sha256(input)).toBe(before);
  });

  it("fails E_FIELD when the named field exists and is already signed", async () => {
    const once = join(work, "field-once.pdf");
    expect((await signWithP12(join(FIXTURES, "pdflib-classic.pdf"), once, ["--field", "Boss"])).code).toBe(0);
    const again = await signWithP12(once, join(work, "field-twice.pdf"), ["--field", "Boss"]);
    expect(again.code).toBe(2);
    expect(again.stderr.trim()).toMatch(/^error: E_FIELD: /);
  });
});

describe("esign sign on encrypted PDFs", () => {
  const USER = "user pw";
  const OWNER = "owner pw";

  /** qpdf's encryption of a fixture; `options` go between --encrypt's key length and `--`. */
  async function encrypt(fixture: string, name: string, keyLength: 128 | 256, options: string[] = []) {
    const output = join(work, name);
    const args = ["--encrypt", USER, OWNER, String(keyLength), ...options, "--"];
    await run("qpdf", ["--allow-weak-crypto", ...args, join(FIXTURES, fixture), output]);
    return output;
  }

  async function expectValidEncrypted(file: string): Promise<string> {
    const verdict = await validate(file, pki.rootPem, { pdfPassword: USER });
    expect(verdict.failures, verdict.output).toEqual([]);
    const check = await run("qpdf", ["--check", `--password=${USER}`, file]);
    expect(check.stdout).toContain("No syntax or stream encoding errors found");
    return verdict.output;
  }

  it("signs with --pdf-password as documented, keeps the encryption, and verifies with it", async () => {
    const input = await encrypt("pdftex-objstm.pdf", "aes256.pdf", 256);
    const output = join(work, "aes256-signed.pdf");
    const signed = await esign(
      ["sign", input, "-o", output, "--p12", pki.p12, "--password", PASSWORD, "--pdf-password", USER],
      "pnpm",
    );
    expect(signed, signed.stderr).toMatchObject({ code: 0 });
    await expectValidEncrypted(output);
    const encryption = (file: string) => run("qpdf", ["--show-encryption", `--password=${OWNER}`, file]);
    expect((await encryption(output)).stdout).toBe((await encryption(input)).stdout);

    const verified = await esign(["verify", output, "--trust", pki.rootPem, "--pdf-password", USER]);
    expect(verified, verified.stderr).toMatchObject({ code: 0 });
    expect(verified.stdout).toMatch(/^OK$/m);
    const closed = await esign(["verify", output, "--trust", pki.rootPem]);
    expect(closed.code).toBe(2);
    expect(closed.stderr.trim()).toMatch(/^error: E_PASSWORD: /);
  });

  it("signs its own encrypted output again with the owner password; both signatures stay valid", async () => {
    const input = await encrypt("pdflib-form.pdf", "rc4.pdf", 128, ["--use-aes=n"]);
    const once = join(work, "rc4-once.pdf");
    const twice = join(work, "rc4-twice.pdf");
    expect((await signWithP12(input, once, ["--pdf-password", USER])).code).toBe(0);
    expect((await signWithP12(once, twice, ["--pdf-password", OWNER, "--field", "Second"])).code).toBe(0);
    const output = await expectValidEncrypted(twice);
    expect(output.match(/openssl-cms\s+PASS/g)).toHaveLength(2);
  });

  it("answers E_PASSWORD and E_PERMISSION as one line, and signs a restricted file with the owner password", async () => {
    const restricted = await encrypt("pdflib-classic.pdf", "restricted.pdf", 256, ["--modify=none"]);
    const output = join(work, "restricted-signed.pdf");
    const wrong = await signWithP12(restricted, output, ["--pdf-password", "guess"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toMatch(/^error: E_PASSWORD: [^\n]+$/);
    const user = await signWithP12(restricted, output, ["--pdf-password", USER]);
    expect(user.code).toBe(2);
    expect(user.stderr.trim()).toMatch(/^error: E_PERMISSION: .*bit 4/);
    await expect(readFile(output)).rejects.toThrow(/ENOENT/);
    expect((await signWithP12(restricted, output, ["--pdf-password", OWNER])).code).toBe(0);
    await expectValidEncrypted(output);
  });
});

describe("esign verify", () => {
  let signed: string;
  beforeAll(async () => {
    signed = join(work, "to-verify.pdf");
    expect(
      (await signWithP12(join(SAMPLES_DIR, "hybrid-xref.pdf"), signed, ["--reason", "Checked"])).code,
    ).toBe(0);
  });

  it("exits 0 and reports the signature, its level and full coverage", async () => {
    const result = await esign(["verify", signed, "--trust", pki.rootPem, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(true);
    expect(report.signatures).toHaveLength(1);
    expect(report.signatures[0]).toMatchObject({
      level: "B-B",
      coversWholeFile: true,
      valid: true,
      trusted: true,
      indication: "TOTAL-PASSED",
      subIndication: null,
      modifications: "none",
      changes: [],
      ltvEnabled: false,
    });
  });

  it("with --ltv, exits non-zero for a B-B signature and names the certificate without revocation data", async () => {
    const result = await esign(["verify", signed, "--trust", pki.rootPem, "--ltv"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/LTV: +not enabled/);
    expect(result.stdout).toMatch(/lacks revocation data/);
  });

  it("without --trust, says the chain was not checked and exits non-zero (INDETERMINATE)", async () => {
    const result = await esign(["verify", signed]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/INDETERMINATE \/ NO_CERTIFICATE_CHAIN_FOUND/);
  });

  it("with --online, asks the signer's OCSP responder on 127.0.0.1 and reports what it says", async () => {
    const root = await issueCertificate({ subject: "CN=esign online root,O=esign-agent tests", ca: true });
    const responder = await startOcspResponder(root);
    afterAll(() => responder.close());
    const signer = await issueCertificate({
      subject: "CN=Online Signer,O=esign-agent tests",
      issuer: root,
      ocspUrl: responder.url,
    });
    const onlinePki = await writeTestPki(
      { root, intermediate: undefined, signer },
      join(work, "online-pki"),
      PASSWORD,
    );
    const output = join(work, "online.pdf");
    const input = join(SAMPLES_DIR, "chromium-invoice.pdf");
    const signed = await esign(["sign", input, "-o", output, "--p12", onlinePki.p12, "--password", PASSWORD]);
    expect(signed, signed.stderr).toMatchObject({ code: 0 });
    responder.setStatus(signer.certificate, "good");

    const offline = await esign(["verify", output, "--trust", onlinePki.rootPem]);
    expect(offline.code).toBe(1);
    expect(offline.stdout).toMatch(/INDETERMINATE \/ TRY_LATER/);
    expect(responder.responses).toHaveLength(0);

    const good = await esign(["verify", output, "--trust", onlinePki.rootPem, "--online"]);
    expect(good, good.stderr).toMatchObject({ code: 0 });
    expect(good.stdout).toMatch(/TOTAL-PASSED/);
    expect(good.stdout).toMatch(/^OK$/m);
    expect(responder.responses).toHaveLength(1);

    responder.setStatus(signer.certificate, "revoked");
    const revoked = await esign(["verify", output, "--trust", onlinePki.rootPem, "--online"]);
    expect(revoked.code).toBe(1);
    expect(revoked.stdout).toMatch(/TOTAL-FAILED \/ REVOKED/);
  });

  it("exits non-zero for a tampered file and for an untrusted root", async () => {
    const tampered = join(work, "tampered.pdf");
    await tamper(signed, tampered);
    const broken = await esign(["verify", tampered, "--trust", pki.rootPem]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/INVALID/);
    const otherRoot = join(SAMPLES_DIR, "already-signed-poppler.root.pem");
    const untrusted = await esign(["verify", signed, "--trust", otherRoot]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/NOT TRUSTED/);
  });
});
