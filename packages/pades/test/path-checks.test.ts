import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { appendDss, BufferSource, openPdf, prepareSignature } from "@esign/pdf";
import { SAMPLES_DIR } from "@esign/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { addUnsignedAttribute, OID, parseCms, signatureValueOf, verifyPdfSignatures } from "../src";
import {
  createOpensslTimestamper,
  createTestPki,
  issueCertificate,
  issueOcspResponder,
  issueTsaCertificate,
  KeyUsageFlags,
  opensslOcspResponse,
  resignCertificate,
  startOcspResponder,
  type TestIdentity,
  toPem,
} from "../src/testing";
import { run, scratchDirectory, signDigest } from "./helpers";

const directory = await scratchDirectory();
const input = await readFile(join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf"));
const root = await issueCertificate({ subject: "CN=esign path test root,O=esign-agent tests", ca: true });
/** An OCSP URL nothing listens on: the certificate declares a revocation source. */
const DEAD_OCSP_URL = "http://127.0.0.1:9/";

interface SignOptions {
  signingTime?: Date;
  /** Turns the CMS before embedding, e.g. adds a signature time-stamp. */
  finish?: (cms: Uint8Array) => Promise<Uint8Array>;
  /** Makes the CMS from the signed bytes instead of signDigest. */
  sign?: (content: Uint8Array) => Promise<Uint8Array>;
  dss?: { certs: Uint8Array[]; ocsps: Uint8Array[]; crls: Uint8Array[] };
}

/** A PDF signed by `signer`, optionally time-stamped and followed by a /DSS revision. */
async function signedPdf(signer: TestIdentity, options: SignOptions = {}): Promise<Buffer> {
  const prepared = await prepareSignature(await openPdf(new BufferSource(input)), {
    contentsSize: 16_000,
    signingTime: options.signingTime ?? new Date(),
  });
  let cms: Uint8Array;
  if (options.sign) {
    const whole = Buffer.concat([input, prepared.revision]);
    const [, gapStart, gapEnd, tail] = prepared.byteRange;
    cms = await options.sign(
      Buffer.concat([whole.subarray(0, gapStart), whole.subarray(gapEnd, gapEnd + tail)]),
    );
  } else {
    cms = signDigest(signer, new Uint8Array(await prepared.digest("sha256")));
  }
  if (options.finish) cms = await options.finish(cms);
  const signed = Buffer.concat([input, prepared.embed(cms)]);
  if (!options.dss) return signed;
  const dss = await appendDss(await openPdf(new BufferSource(signed)), options.dss);
  return Buffer.concat([signed, dss.revision]);
}

/** `openssl cms -sign` of `content` by `identity` (detached unless `extra` says otherwise), DER. */
async function opensslCmsSign(
  identity: TestIdentity,
  content: Uint8Array,
  extra: string[],
): Promise<Uint8Array> {
  const base = join(directory, `cms-${Math.random().toString(36).slice(2)}`);
  await writeFile(`${base}.pem`, toPem(identity.certificate));
  await writeFile(`${base}.key`, identity.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(`${base}.in`, content);
  await run("openssl", [
    ...["cms", "-sign", "-binary", "-in", `${base}.in`, "-signer", `${base}.pem`, "-inkey", `${base}.key`],
    ...["-nosmimecap", "-outform", "DER", "-out", `${base}.p7s`, ...extra],
  ]);
  return new Uint8Array(await readFile(`${base}.p7s`));
}

async function verdictOf(file: Uint8Array, online = false) {
  const report = await verifyPdfSignatures(new BufferSource(file), {
    trustRoots: [root.certificate],
    online,
  });
  return report.signatures[0]!;
}

const tsa = await issueTsaCertificate(root, { ocspUrl: DEAD_OCSP_URL });
const timestamper = await createOpensslTimestamper(tsa, join(directory, "tsa"));
const stamp = async (cms: Uint8Array) =>
  addUnsignedAttribute(cms, OID.signatureTimeStampToken, await timestamper.timestamp(signatureValueOf(cms)));

describe("revocation of every certificate on the paths", () => {
  it("fails a signature whose intermediate CA is revoked (TOTAL-FAILED / REVOKED)", async () => {
    const pki = await createTestPki({ intermediate: true });
    const intermediate = pki.intermediate!;
    const file = await signedPdf(pki.signer, {
      dss: {
        certs: [intermediate.certificate],
        ocsps: [
          await opensslOcspResponse(intermediate, pki.signer.certificate, "good"),
          await opensslOcspResponse(pki.root, intermediate.certificate, "revoked"),
        ],
        crls: [],
      },
    });
    const report = await verifyPdfSignatures(new BufferSource(file), { trustRoots: [pki.root.certificate] });
    const signature = report.signatures[0]!;
    expect(signature.revocation?.status).toBe("good");
    expect(signature).toMatchObject({ indication: "TOTAL-FAILED", subIndication: "REVOKED" });
    expect(signature.findings).toEqual([
      { subIndication: "REVOKED", reason: expect.stringContaining("signer path: CN=esign test issuing CA") },
    ]);
  });

  it("fails a signature whose time-stamp authority is revoked", async () => {
    const file = await signedPdf(await issueCertificate({ subject: "CN=Stamped Signer", issuer: root }), {
      finish: stamp,
      dss: { certs: [], ocsps: [await opensslOcspResponse(root, tsa.certificate, "revoked")], crls: [] },
    });
    const signature = await verdictOf(file);
    expect(signature).toMatchObject({ indication: "TOTAL-FAILED", subIndication: "REVOKED" });
    expect(signature.findings[0]!.reason).toContain("signature time-stamp certificate CN=esign test TSA");
  });

  it("needs no status for a delegated OCSP responder marked ocsp-nocheck", async () => {
    const responder = await issueOcspResponder(root);
    const signer = await issueCertificate({
      subject: "CN=Delegated Signer",
      issuer: root,
      ocspUrl: DEAD_OCSP_URL,
    });
    const file = await signedPdf(signer, {
      dss: {
        certs: [],
        ocsps: [await opensslOcspResponse(root, signer.certificate, "good", { responder })],
        crls: [],
      },
    });
    const signature = await verdictOf(file);
    expect(signature.findings).toEqual([]);
    expect(signature).toMatchObject({ indication: "TOTAL-PASSED", revocation: { status: "good" } });
  });

  it("is INDETERMINATE / TRY_LATER when a certificate names an OCSP responder and no data answers", async () => {
    const signer = await issueCertificate({
      subject: "CN=Unchecked Signer",
      issuer: root,
      ocspUrl: DEAD_OCSP_URL,
    });
    const signature = await verdictOf(await signedPdf(signer));
    expect(signature).toMatchObject({ indication: "INDETERMINATE", subIndication: "TRY_LATER" });
    // A certificate that names no revocation source cannot be checked, and is accepted (CHECK_IF_DECLARED).
    const silent = await issueCertificate({ subject: "CN=No URL Signer", issuer: root });
    expect(await verdictOf(await signedPdf(silent))).toMatchObject({ indication: "TOTAL-PASSED" });
  });

  it("with online, asks the signer's OCSP responder on 127.0.0.1 when the file has no /DSS", async () => {
    const responder = await startOcspResponder(root);
    afterAll(() => responder.close());
    const signer = await issueCertificate({
      subject: "CN=Online Signer",
      issuer: root,
      ocspUrl: responder.url,
    });
    responder.setStatus(signer.certificate, "good");
    const file = await signedPdf(signer);
    expect(await verdictOf(file)).toMatchObject({ subIndication: "TRY_LATER" });
    expect(responder.responses).toHaveLength(0);
    const online = await verdictOf(file, true);
    expect(online).toMatchObject({
      indication: "TOTAL-PASSED",
      revocation: { status: "good", source: "ocsp" },
    });
    expect(responder.responses).toHaveLength(1);

    responder.setStatus(signer.certificate, "revoked");
    expect(await verdictOf(file, true)).toMatchObject({
      indication: "TOTAL-FAILED",
      subIndication: "REVOKED",
    });
  });
});

describe("algorithms and key usages", () => {
  it("refuses an RSA-1024 signer (INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE)", async () => {
    const weak = await issueCertificate({
      subject: "CN=Short Key Signer",
      issuer: root,
      keyType: "rsa-1024",
    });
    const signature = await verdictOf(await signedPdf(weak));
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
    });
    expect(signature.findings[0]!.reason).toContain("RSA-1024");
  });

  it("refuses a SHA-1 signature made by openssl cms", async () => {
    const signer = await issueCertificate({ subject: "CN=SHA-1 Signer", issuer: root });
    const file = await signedPdf(signer, {
      sign: (content) => opensslCmsSign(signer, content, ["-md", "sha1"]),
    });
    const signature = await verdictOf(file);
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
    });
    expect(signature.findings.map((found) => found.reason)).toContain("signature uses SHA-1");
  });

  it("refuses a chain whose intermediate CA certificate is signed with SHA-1, naming it", async () => {
    const intermediate = await resignCertificate(
      await issueCertificate({ subject: "CN=SHA-1 Issuing CA", issuer: root, ca: true }),
      root,
      "sha1",
    );
    const signer = await issueCertificate({ subject: "CN=Signer Under SHA-1 CA", issuer: intermediate });
    const signature = await verdictOf(await signedPdf(signer));
    expect(signature.trusted).toBe(true);
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
    });
    expect(signature.findings).toEqual([
      {
        subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
        reason: "signer path: CN=SHA-1 Issuing CA is signed with SHA-1 with RSA",
      },
    ]);
  });

  it("refuses a TSA certificate issued with an RSA-1024 key, naming the certificate", async () => {
    const weakCa = await issueCertificate({
      subject: "CN=Short Key TSA CA",
      issuer: root,
      ca: true,
      keyType: "rsa-1024",
    });
    const weakTsa = await issueTsaCertificate(weakCa);
    const weakStamper = await createOpensslTimestamper(weakTsa, join(directory, "weak-tsa"));
    const signer = await issueCertificate({ subject: "CN=Weakly Stamped Signer", issuer: root });
    const file = await signedPdf(signer, {
      finish: async (cms) =>
        addUnsignedAttribute(
          cms,
          OID.signatureTimeStampToken,
          await weakStamper.timestamp(signatureValueOf(cms)),
        ),
    });
    const signature = await verdictOf(file);
    expect(signature.cms?.signatureTimestamp?.valid).toBe(true);
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
    });
    expect(signature.findings.map((found) => found.reason)).toContain(
      "signature time-stamp certificate CN=esign test TSA, O=esign-agent tests is signed by CN=Short Key TSA CA, whose key is RSA-1024 (at least 2048 bits required)",
    );
  });

  it("refuses a delegated OCSP responder certificate signed with SHA-1", async () => {
    const responder = await resignCertificate(await issueOcspResponder(root), root, "sha1");
    const signer = await issueCertificate({
      subject: "CN=Signer With SHA-1 Responder",
      issuer: root,
      ocspUrl: DEAD_OCSP_URL,
    });
    const file = await signedPdf(signer, {
      dss: {
        certs: [],
        ocsps: [await opensslOcspResponse(root, signer.certificate, "good", { responder })],
        crls: [],
      },
    });
    const signature = await verdictOf(file);
    expect(signature.revocation?.status).toBe("good");
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
    });
    expect(signature.findings.map((found) => found.reason)).toEqual([
      "OCSP responder for CN=Signer With SHA-1 Responder certificate CN=esign test OCSP responder, O=esign-agent tests is signed with SHA-1 with RSA",
    ]);
  });

  it("refuses a signer certificate without digitalSignature or nonRepudiation key usage", async () => {
    const encipherer = await issueCertificate({
      subject: "CN=Encryption Only",
      issuer: root,
      keyUsage: KeyUsageFlags.keyEncipherment,
    });
    const signature = await verdictOf(await signedPdf(encipherer));
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "CHAIN_CONSTRAINTS_FAILURE",
    });
    expect(signature.findings[0]!.reason).toContain("neither digitalSignature nor nonRepudiation");
  });

  it("refuses a time-stamp whose TSA certificate lacks id-kp-timeStamping", async () => {
    // openssl ts refuses such a TSA, so a genuine TSTInfo is signed again with openssl cms.
    const plain = await issueCertificate({ subject: "CN=Not A TSA", issuer: root });
    const signer = await issueCertificate({ subject: "CN=Oddly Stamped Signer", issuer: root });
    const file = await signedPdf(signer, {
      finish: async (cms) => {
        const genuine = await timestamper.timestamp(signatureValueOf(cms));
        const token = await opensslCmsSign(plain, parseCms(genuine).encapsulatedContent!, [
          ...["-nodetach", "-econtent_type", OID.tstInfo, "-md", "sha256"],
        ]);
        return addUnsignedAttribute(cms, OID.signatureTimeStampToken, token);
      },
    });
    const signature = await verdictOf(file);
    expect(signature.cms?.signatureTimestamp?.valid).toBe(true);
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "CHAIN_CONSTRAINTS_FAILURE",
    });
    expect(signature.findings[0]!.reason).toContain("lacks the extended key usage id-kp-timeStamping");
  });
});

describe("claimed signing time against the time-stamp", () => {
  const quietTsa = issueTsaCertificate(root).then((identity) =>
    createOpensslTimestamper(identity, join(directory, "quiet-tsa")),
  );
  const stampQuietly = async (cms: Uint8Array) =>
    addUnsignedAttribute(
      cms,
      OID.signatureTimeStampToken,
      await (await quietTsa).timestamp(signatureValueOf(cms)),
    );
  const signer = issueCertificate({ subject: "CN=Timely Signer", issuer: root });

  it("flags an /M after the signature time-stamp (INDETERMINATE / SIG_CONSTRAINTS_FAILURE)", async () => {
    const later = new Date(Date.now() + 60 * 60_000);
    const signature = await verdictOf(
      await signedPdf(await signer, { signingTime: later, finish: stampQuietly }),
    );
    expect(signature).toMatchObject({
      indication: "INDETERMINATE",
      subIndication: "SIG_CONSTRAINTS_FAILURE",
    });
    expect(signature.findings[0]!.reason).toContain("is after the signature time-stamp");
  });

  it("notes an /M more than a day before the time-stamp, without changing the verdict", async () => {
    const earlier = new Date(Date.now() - 2 * 86_400_000);
    const signature = await verdictOf(
      await signedPdf(await signer, { signingTime: earlier, finish: stampQuietly }),
    );
    expect(signature).toMatchObject({ indication: "TOTAL-PASSED" });
    expect(signature.problems.join("\n")).toContain("more than a day before the signature time-stamp");
  });
});

/**
 * ETSI EN 319 102-1 proofs of existence: a later archive (document) time-stamp whose own path
 * holds proves that what it covers existed at its genTime, so a revocation after that time does
 * not count; without it, a time-stamp's genTime is only its revoked TSA's word.
 */
describe("proof of existence from an archive time-stamp", () => {
  const archiveTsa = issueTsaCertificate(root).then((identity) =>
    createOpensslTimestamper(identity, join(directory, "archive-tsa")),
  );

  async function withArchiveTimestamp(
    file: Buffer,
    stamper: Promise<Awaited<typeof archiveTsa>> = archiveTsa,
  ): Promise<{ file: Buffer; genTime: Date }> {
    const prepared = await prepareSignature(await openPdf(new BufferSource(file)), {
      kind: "timestamp",
      contentsSize: 6000,
    });
    const digest = new Uint8Array(await prepared.digest("sha256"));
    const token = await (await stamper).timestampDigest(digest, "sha256");
    const stamped = Buffer.concat([file, prepared.embed(token)]);
    const report = await verifyPdfSignatures(new BufferSource(stamped), { trustRoots: [root.certificate] });
    return { file: stamped, genTime: new Date(report.signatures.at(-1)!.documentTimestamp!.genTime) };
  }

  async function withDss(file: Buffer, ocsps: Uint8Array[]): Promise<Buffer> {
    const dss = await appendDss(await openPdf(new BufferSource(file)), { certs: [], ocsps, crls: [] });
    return Buffer.concat([file, dss.revision]);
  }

  it("rescues a signature whose TSA (or signer) was revoked after the archive time-stamp", async () => {
    // A TSA and a signer that will be revoked; both name an OCSP responder, so their status is needed.
    const revokedTsa = await issueTsaCertificate(root, { ocspUrl: DEAD_OCSP_URL });
    const stamper = await createOpensslTimestamper(revokedTsa, join(directory, "revoked-tsa"));
    const stamped = await signedPdf(await issueCertificate({ subject: "CN=POE Signer", issuer: root }), {
      finish: async (cms) =>
        addUnsignedAttribute(
          cms,
          OID.signatureTimeStampToken,
          await stamper.timestamp(signatureValueOf(cms)),
        ),
    });
    const revokedSigner = await issueCertificate({
      subject: "CN=Revoked Later Signer",
      issuer: root,
      ocspUrl: DEAD_OCSP_URL,
    });
    const plain = await signedPdf(revokedSigner);
    const archivedStamped = await withArchiveTimestamp(stamped);
    const archivedPlain = await withArchiveTimestamp(plain);
    // An archive time-stamp whose own path does not hold (its TSA's status is unknown) proves nothing.
    const uncheckedArchiveTsa = issueTsaCertificate(root, { ocspUrl: DEAD_OCSP_URL }).then((identity) =>
      createOpensslTimestamper(identity, join(directory, "unchecked-archive-tsa")),
    );
    const archivedUnchecked = await withArchiveTimestamp(stamped, uncheckedArchiveTsa);

    // Revoked after the archive time-stamps (whole seconds, as OCSP says it), and answered once it happened.
    const last = Math.max(
      ...[archivedStamped, archivedPlain, archivedUnchecked].map((archived) => archived.genTime.getTime()),
    );
    const revokedAt = new Date(Math.floor(last / 1000) * 1000 + 2000);
    await new Promise((resolve) => setTimeout(resolve, revokedAt.getTime() + 200 - Date.now()));
    const tsaRevoked = await opensslOcspResponse(root, revokedTsa.certificate, "revoked", { revokedAt });
    const signerRevoked = await opensslOcspResponse(root, revokedSigner.certificate, "revoked", {
      revokedAt,
    });

    // The signature time-stamp: its genTime is before the revocation, but only the revoked TSA says so.
    const unproven = await verdictOf(await withDss(stamped, [tsaRevoked]));
    expect(unproven).toMatchObject({ indication: "INDETERMINATE", subIndication: "REVOKED_NO_POE" });
    expect(unproven.findings).toEqual([
      {
        subIndication: "REVOKED_NO_POE",
        reason: expect.stringContaining("signature time-stamp certificate CN=esign test TSA"),
      },
    ]);
    const rescued = await verifyPdfSignatures(
      new BufferSource(await withDss(archivedStamped.file, [tsaRevoked])),
      { trustRoots: [root.certificate] },
    );
    expect(rescued.signatures.map((signature) => [signature.type, signature.indication])).toEqual([
      ["Sig", "TOTAL-PASSED"],
      ["DocTimeStamp", "TOTAL-PASSED"],
    ]);
    expect(rescued.signatures[0]!.findings).toEqual([]);
    const notRescued = await verifyPdfSignatures(
      new BufferSource(await withDss(archivedUnchecked.file, [tsaRevoked])),
      { trustRoots: [root.certificate] },
    );
    expect(notRescued.signatures.map((signature) => signature.subIndication)).toEqual([
      "REVOKED_NO_POE",
      "TRY_LATER",
    ]);

    // A B-B signature whose signer was revoked: only the archive time-stamp proves it was made before.
    const revoked = await verdictOf(await withDss(plain, [signerRevoked]));
    expect(revoked).toMatchObject({ indication: "TOTAL-FAILED", subIndication: "REVOKED" });
    const signerRescued = await verdictOf(await withDss(archivedPlain.file, [signerRevoked]));
    expect(signerRescued).toMatchObject({ indication: "TOTAL-PASSED", revocation: { status: "revoked" } });
  });
});
