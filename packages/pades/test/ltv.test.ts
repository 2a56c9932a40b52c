import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { appendDss, BufferSource, openPdf, prepareSignature } from "@esign/pdf";
import { SAMPLES_DIR } from "@esign/testkit";
import { afterAll, describe, expect, it } from "vitest";
import {
  addUnsignedAttribute,
  certificatesOfSignature,
  gatherLtv,
  ltvReadinessGaps,
  OID,
  signatureValueOf,
  verifyPdfSignatures,
  vriKey,
} from "../src";
import {
  createOpensslTimestamper,
  issueCertificate,
  issueOcspResponder,
  issueTsaCertificate,
  opensslCheckOcspResponse,
  startOcspResponder,
  toPem,
  validatePdf,
} from "../src/testing";
import { scratchDirectory, signDigest } from "./helpers";

const directory = await scratchDirectory();
const root = await issueCertificate({ subject: "CN=esign PSS test root,O=esign-agent tests", ca: true });
// The CA answers OCSP requests itself, signing with RSASSA-PSS.
const responder = await startOcspResponder(root, { pss: true });
afterAll(() => responder.close());
const signer = await issueCertificate({
  subject: "CN=PSS OCSP Signer,O=esign-agent tests",
  issuer: root,
  ocspUrl: responder.url,
});
const tsa = await issueTsaCertificate(root, { ocspUrl: responder.url });
responder.setStatus(signer.certificate, "good");
responder.setStatus(tsa.certificate, "good");
const timestamper = await createOpensslTimestamper(tsa, join(directory, "tsa"));

describe("B-LT with OCSP responses signed with RSASSA-PSS", () => {
  it("gathers them over HTTP, and openssl agrees they are good and PSS-signed", async () => {
    const ltv = await gatherLtv([signer.certificate, root.certificate]);
    expect(ltv.ocsps).toHaveLength(1);
    expect(ltv.crls).toEqual([]);
    const verdict = await opensslCheckOcspResponse(
      ltv.ocsps[0]!,
      root.certificate,
      signer.certificate,
      root.certificate,
    );
    expect(verdict.output).toContain("Signature Algorithm: rsassaPss");
    expect(verdict.output).toContain("Response verify OK");
    expect(verdict.output).toMatch(/cert\.pem: good/);
  });

  it("gathers them from a delegated PSS responder, whose certificate joins the /DSS", async () => {
    const delegated = await issueOcspResponder(root);
    const delegatedResponder = await startOcspResponder(root, { responder: delegated, pss: true });
    try {
      const leaf = await issueCertificate({
        subject: "CN=Delegated PSS Signer,O=esign-agent tests",
        issuer: root,
        ocspUrl: delegatedResponder.url,
      });
      delegatedResponder.setStatus(leaf.certificate, "good");
      const ltv = await gatherLtv([leaf.certificate, root.certificate]);
      expect(ltv.ocsps).toEqual(delegatedResponder.responses);
      // The responder is marked ocsp-nocheck: its certificate is kept, its status is not asked.
      expect(ltv.certs.map((der) => Buffer.from(der).toString("hex"))).toContain(
        Buffer.from(delegated.certificate).toString("hex"),
      );
      expect(delegatedResponder.responses).toHaveLength(1);
    } finally {
      await delegatedResponder.close();
    }
  });

  it("signs a PDF at B-LT whose /DSS holds them, and validation reports the signer good", async () => {
    const input = await readFile(join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf"));
    const contentsSize = 16_000;
    const prepared = await prepareSignature(await openPdf(new BufferSource(input)), {
      contentsSize,
      signingTime: new Date(),
    });
    const unstamped = signDigest(signer, new Uint8Array(await prepared.digest("sha256")));
    const token = await timestamper.timestamp(signatureValueOf(unstamped));
    const cms = addUnsignedAttribute(unstamped, OID.signatureTimeStampToken, token);
    const signed = Buffer.concat([input, prepared.embed(cms)]);

    const ltv = await gatherLtv(certificatesOfSignature(cms));
    expect(ltv.ocsps).toHaveLength(2);
    const contents = new Uint8Array(contentsSize);
    contents.set(cms);
    const dss = await appendDss(await openPdf(new BufferSource(signed)), {
      ...ltv,
      vri: { [vriKey(contents)]: { certs: [], ocsps: [0, 1], crls: [], time: new Date() } },
    });
    const file = Buffer.concat([signed, dss.revision]);

    const report = await verifyPdfSignatures(new BufferSource(file), { trustRoots: [root.certificate] });
    expect(report.dss).toMatchObject({ ocsps: 2, crls: 0 });
    expect(report.signatures[0]).toMatchObject({
      valid: true,
      trusted: true,
      level: "B-LT",
      revocation: { source: "ocsp", status: "good" },
      ltvEnabled: true,
      ltvGaps: [],
    });

    const path = join(directory, "b-lt-pss-ocsp.pdf");
    const rootPem = join(directory, "root.pem");
    await writeFile(path, file);
    await writeFile(rootPem, toPem(root.certificate));
    const judged = await validatePdf(path, [rootPem]);
    expect(judged.failures, judged.output).toEqual([]);
  });
});

describe('"LTV enabled": every certificate on every path has revocation data in the /DSS', () => {
  const noUrlSigner = issueCertificate({
    subject: "CN=No Revocation URL Signer,O=esign-agent tests",
    issuer: root,
  });

  it("before signing, warns that a chain without OCSP or CRL URLs cannot reach LTV, naming the certificate", async () => {
    const { certificate } = await noUrlSigner;
    expect(ltvReadinessGaps([certificate, root.certificate])).toEqual([
      {
        certificate: expect.stringContaining("No Revocation URL Signer"),
        missing: expect.stringContaining("OCSP"),
      },
    ]);
    expect(ltvReadinessGaps([signer.certificate, root.certificate])).toEqual([]);
  });

  it("reports false for a signature whose signer has no revocation data, naming the certificate", async () => {
    const identity = await noUrlSigner;
    const input = await readFile(join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf"));
    const prepared = await prepareSignature(await openPdf(new BufferSource(input)), { contentsSize: 8000 });
    const cms = signDigest(identity, new Uint8Array(await prepared.digest("sha256")));
    const signed = Buffer.concat([input, prepared.embed(cms)]);
    // A /DSS with the chain but no revocation data: the signer stays uncovered.
    const dss = await appendDss(await openPdf(new BufferSource(signed)), {
      certs: [identity.certificate, root.certificate],
      ocsps: [],
      crls: [],
    });
    const file = Buffer.concat([signed, dss.revision]);
    const [signature] = (
      await verifyPdfSignatures(new BufferSource(file), { trustRoots: [root.certificate] })
    ).signatures;
    expect(signature!.ltvEnabled).toBe(false);
    expect(signature!.ltvGaps).toEqual([
      {
        certificate: expect.stringContaining("No Revocation URL Signer"),
        missing: expect.stringContaining("revocation data"),
      },
    ]);
  });
});
