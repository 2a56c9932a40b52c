import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyPdfSignatures } from "@esign/pades";
import { createTestPki, tamperPdf, validatePdf, writeTestPki } from "@esign/pades/testing";
import { BufferSource, openPdf, prepareSignature } from "@esign/pdf";
import { SAMPLES_DIR } from "@esign/testkit";
import { describe, expect, it } from "vitest";
import { createP12Signer } from "../src";

const SAMPLES = SAMPLES_DIR;
const samples = readdirSync(SAMPLES).filter((file) => file.endsWith(".pdf"));
const directory = await mkdtemp(join(tmpdir(), "esign-sign-pdf-"));
const pki = await createTestPki({ keyType: "rsa", intermediate: true });
const files = await writeTestPki(pki, directory, "secret");
const signer = await createP12Signer({ credentials: { p12Path: files.legacyP12, password: "secret" } });
const popplerRoot = join(SAMPLES, "already-signed-poppler.root.pem");
const trustRoots = [pki.root.certificate, new Uint8Array(readFileSync(popplerRoot))].map(pemOrDer);

function pemOrDer(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes).toString("latin1");
  const base64 = text.match(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/)?.[1];
  return base64 ? new Uint8Array(Buffer.from(base64, "base64")) : bytes;
}

async function signPdf(input: Uint8Array): Promise<Uint8Array> {
  const doc = await openPdf(new BufferSource(input));
  const prepared = await prepareSignature(doc, {
    contentsSize: await signer.estimateCmsSize("B-B"),
    reason: "end-to-end test",
    signingTime: new Date(),
  });
  const { cms } = await signer.sign({
    documentDigest: new Uint8Array(await prepared.digest("sha256")),
    digestAlgorithm: "sha256",
    level: "B-B",
  });
  return Buffer.concat([input, prepared.embed(cms)]);
}

describe.each(samples)("p12 signer on %s", (sample) => {
  it("signs a file that validate.sh and verifyPdfSignatures accept, and tamper.sh breaks for both", async () => {
    const input = readFileSync(join(SAMPLES, sample));
    const signedFile = join(directory, `signed-${sample}`);
    writeFileSync(signedFile, await signPdf(input));

    const judged = await validatePdf(signedFile, [files.rootPem, popplerRoot]);
    expect(judged.failures, judged.output).toEqual([]);

    const report = await verifyPdfSignatures(new BufferSource(readFileSync(signedFile)), { trustRoots });
    const ours = report.signatures.at(-1)!;
    expect(ours).toMatchObject({
      valid: true,
      trusted: true,
      coversWholeFile: true,
      level: "B-B",
      signer: "CN=Test Signer, O=esign-agent tests, C=DE",
      reason: "end-to-end test",
      problems: [],
    });
    for (const earlier of report.signatures.slice(0, -1)) {
      expect(earlier.valid).toBe(true);
      expect(earlier.modifications).toBe("allowed");
    }
    expect(report.valid).toBe(true);

    const tamperedFile = join(directory, `tampered-${sample}`);
    await tamperPdf(signedFile, tamperedFile);
    expect((await validatePdf(tamperedFile, [files.rootPem, popplerRoot])).failures).not.toEqual([]);
    const tampered = await verifyPdfSignatures(new BufferSource(readFileSync(tamperedFile)), { trustRoots });
    expect(tampered.valid).toBe(false);
    expect(tampered.signatures.every((signature) => !signature.valid)).toBe(true);
    expect(tampered.signatures.at(-1)!.cms?.messageDigestMatches).toBe(false);
  });
});

describe("verifyPdfSignatures on a shifted /ByteRange", () => {
  it("reports a byte range whose gap is not the /Contents string", async () => {
    const signed = Buffer.from(await signPdf(readFileSync(join(SAMPLES, "chromium-invoice.pdf"))));
    const text = signed.toString("latin1");
    const match = /\/ByteRange \[0 (\d+) (\d+) (\d+)\]/g;
    const last = [...text.matchAll(match)].at(-1)!;
    const [a, b, c] = [last[1], last[2], last[3]].map(Number) as [number, number, number];
    // Same width, same file: the gap moves one byte to the right.
    const shifted = `/ByteRange [0 ${a + 1} ${b + 1} ${c - 1}]`.padEnd(last[0].length, " ");
    expect(shifted.length).toBe(last[0].length);
    signed.write(shifted, last.index!, "latin1");

    const report = await verifyPdfSignatures(new BufferSource(signed), { trustRoots });
    const ours = report.signatures.at(-1)!;
    expect(ours).toMatchObject({ byteRangeValid: false, valid: false });
    expect(ours.problems).toContain("the /ByteRange gap is not exactly the /Contents string");
    expect(report.valid).toBe(false);
  });
});
