import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyPdfSignatures } from "@esign/pades";
import {
  createOpensslTimestamper,
  createTestPki,
  issueCrl,
  issueTsaCertificate,
  validatePdf,
  writeTestPki,
} from "@esign/pades/testing";
import { appendDss, BufferSource, IncrementalUpdate, openPdf, prepareSignature } from "@esign/pdf";
import { SAMPLES_DIR } from "@esign/testkit";
import { describe, expect, it } from "vitest";
import { createP12Signer } from "../src";

const directory = await mkdtemp(join(tmpdir(), "esign-levels-"));
const pki = await createTestPki({ keyType: "p256" });
const files = await writeTestPki(pki, directory, "pw");
const tsa = await issueTsaCertificate(pki.root);
const timestamper = await createOpensslTimestamper(tsa, join(directory, "tsa"));
const signer = await createP12Signer({ credentials: { p12Path: files.p12, password: "pw" }, timestamper });
const trustRoots = [pki.root.certificate];
const input = readFileSync(join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf"));

async function signAtBT(): Promise<Buffer> {
  const prepared = await prepareSignature(await openPdf(new BufferSource(input)), {
    contentsSize: await signer.estimateCmsSize("B-T"),
    signingTime: new Date(),
  });
  const digest = new Uint8Array(await prepared.digest("sha256"));
  const { cms } = await signer.sign({ documentDigest: digest, digestAlgorithm: "sha256", level: "B-T" });
  return Buffer.concat([input, prepared.embed(cms)]);
}

async function withDss(signed: Buffer, crl: Uint8Array): Promise<Buffer> {
  const { revision } = await appendDss(await openPdf(new BufferSource(signed)), {
    certs: [pki.signer.certificate, pki.root.certificate, tsa.certificate],
    ocsps: [],
    crls: [crl],
  });
  return Buffer.concat([signed, revision]);
}

async function withDocumentTimestamp(file: Buffer): Promise<Buffer> {
  const prepared = await prepareSignature(await openPdf(new BufferSource(file)), {
    kind: "timestamp",
    contentsSize: 6000,
  });
  const token = await timestamper.timestampDigest(new Uint8Array(await prepared.digest("sha256")), "sha256");
  return Buffer.concat([file, prepared.embed(token)]);
}

const verify = (file: Buffer) => verifyPdfSignatures(new BufferSource(file), { trustRoots });

describe("PAdES levels found by verifyPdfSignatures", async () => {
  const bt = await signAtBT();
  const blt = await withDss(bt, await issueCrl(pki.root));
  const blta = await withDocumentTimestamp(blt);

  it("B-T: a verified signature time-stamp", async () => {
    const [signature] = (await verify(bt)).signatures;
    expect(signature).toMatchObject({ level: "B-T", valid: true, trusted: true, revocation: undefined });
    expect(signature!.cms!.signatureTimestamp).toMatchObject({
      valid: true,
      trusted: true,
      imprintMatches: true,
    });
  });

  it("B-LT: /DSS with a CRL that covers the signer; only LTV data added after signing", async () => {
    const report = await verify(blt);
    const [signature] = report.signatures;
    expect(report.dss).toMatchObject({ certs: 3, crls: 1, ocsps: 0 });
    expect(signature).toMatchObject({
      level: "B-LT",
      revocation: { source: "crl", status: "good" },
      coversWholeFile: false,
    });
    expect(signature!.modifications).toBe("allowed");
    expect(signature!.changes.some((change) => change.kind === "dss")).toBe(true);
    expect(report.valid).toBe(true);
  });

  it("B-LTA: a document time-stamp over the /DSS revision, accepted by validate.sh", async () => {
    const report = await verify(blta);
    expect(report.signatures.map((s) => [s.type, s.level, s.valid, s.trusted])).toEqual([
      ["Sig", "B-LTA", true, true],
      ["DocTimeStamp", undefined, true, true],
    ]);
    expect(report.signatures[1]!.signer).toBe("CN=esign test TSA, O=esign-agent tests");
    expect(report.valid).toBe(true);

    const file = join(directory, "b-lta.pdf");
    writeFileSync(file, blta);
    const judged = await validatePdf(file, [files.rootPem]);
    expect(judged.failures, judged.output).toEqual([]);
  });

  it("a revoked signer stays at B-T", async () => {
    const revoked = await withDss(bt, await issueCrl(pki.root, [pki.signer.certificate]));
    const [signature] = (await verify(revoked)).signatures;
    expect(signature).toMatchObject({ level: "B-T", revocation: { source: "crl", status: "revoked" } });
  });

  it("reports a later change to page content as not a signature or LTV update", async () => {
    const doc = await openPdf(new BufferSource(blta));
    const update = new IncrementalUpdate(doc);
    const [page] = await doc.pages();
    (await update.editDict(page!.ref)).set("Rotate", 90);
    const edited = Buffer.concat([blta, update.build().bytes]);

    const report = await verify(edited);
    expect(report.valid).toBe(false);
    for (const signature of report.signatures) {
      expect(signature.valid).toBe(true);
      expect(signature.modifications).toBe("disallowed");
      expect(signature.changes.filter((change) => !change.allowed).map((change) => change.object)).toEqual([
        page!.ref.key,
      ]);
    }
  });
});
