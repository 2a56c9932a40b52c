import { type ErrorCode, isEsignError } from "@esign/errors";
import { describe, expect, it } from "vitest";
import { checkCrl, checkOcspResponse, revocationStatus } from "../src";
import { createTestPki, issueCertificate, issueCrl, opensslOcspResponse } from "../src/testing";

const DAY = 86_400_000;
const daysFromNow = (days: number) => new Date(Date.now() + days * DAY);

/** The E_REVOCATION a "must be good now" check throws, with its message and permanence. */
function rejection(check: () => unknown): { code: ErrorCode; permanent: boolean; message: string } {
  try {
    check();
  } catch (error) {
    if (isEsignError(error)) return { code: error.code, permanent: error.permanent, message: error.message };
    throw error;
  }
  throw new Error("the check passed");
}

describe("revocation: one verdict, two policies", async () => {
  const pki = await createTestPki({ keyType: "p256", intermediate: true });
  const issuer = pki.intermediate!;
  const certificate = pki.signer.certificate;
  const pool = [issuer.certificate, pki.root.certificate];
  const sibling = await issueCertificate({ subject: "CN=Sibling Signer,O=esign-agent tests", issuer });
  const other = await createTestPki({ keyType: "p256" });
  const good = await opensslOcspResponse(issuer, certificate, "good");
  const report = (ocsps: Uint8Array[], crls: Uint8Array[], options = {}) =>
    revocationStatus(certificate, pool, ocsps, crls, options);

  it("good: accepted for signing, reported good", () => {
    expect(checkOcspResponse(good, certificate, issuer.certificate).response).toBe(good);
    expect(report([good], [])).toEqual({
      status: "good",
      source: "ocsp",
      revokedAt: undefined,
      problems: [],
    });
  });

  it("takes the CertID hash from the CertID (SHA-256 here)", async () => {
    const sha256 = await opensslOcspResponse(issuer, certificate, "good", { certIdHash: "sha256" });
    expect(checkOcspResponse(sha256, certificate, issuer.certificate).response).toBe(sha256);
    expect(report([sha256], [])).toMatchObject({ status: "good", source: "ocsp" });
  });

  it("revoked: a permanent E_REVOCATION when signing, reported revoked with its time", async () => {
    const revoked = await opensslOcspResponse(issuer, certificate, "revoked");
    expect(rejection(() => checkOcspResponse(revoked, certificate, issuer.certificate))).toMatchObject({
      code: "E_REVOCATION",
      permanent: true,
      message: expect.stringMatching(/Test Signer.* is revoked since /),
    });
    const status = report([revoked], []);
    expect(status).toMatchObject({ status: "revoked", source: "ocsp", problems: [] });
    expect(Date.parse(status.revokedAt!)).toBeLessThan(Date.now());
  });

  it("unknown to the responder: refused for signing, reported unknown", async () => {
    const unknown = await opensslOcspResponse(issuer, certificate, "unknown");
    expect(rejection(() => checkOcspResponse(unknown, certificate, issuer.certificate))).toMatchObject({
      code: "E_REVOCATION",
      permanent: false,
      message: expect.stringMatching(/status of .*Test Signer.* is unknown/),
    });
    expect(report([unknown], [])).toMatchObject({ status: "unknown", source: "ocsp" });
  });

  it("CertID mismatch: a response about another certificate of the same CA proves nothing", async () => {
    const aboutSibling = await opensslOcspResponse(issuer, sibling.certificate, "good");
    expect(rejection(() => checkOcspResponse(aboutSibling, certificate, issuer.certificate))).toMatchObject({
      code: "E_REVOCATION",
      permanent: false,
      message: expect.stringMatching(/not about .*Test Signer/),
    });
    expect(report([aboutSibling], [])).toEqual({
      status: "unknown",
      source: undefined,
      revokedAt: undefined,
      problems: [expect.stringMatching(/no OCSP response or CRL names .*Test Signer/)],
    });
  });

  it("stale: outdated once nextUpdate is past the time the status must hold", () => {
    const twoDaysOn = daysFromNow(2);
    expect(
      rejection(() => checkOcspResponse(good, certificate, issuer.certificate, { now: twoDaysOn })),
    ).toMatchObject({ code: "E_REVOCATION", permanent: false, message: expect.stringMatching(/outdated/) });
    expect(report([good], [], { at: twoDaysOn, now: twoDaysOn })).toMatchObject({
      status: "unknown",
      source: undefined,
      problems: [expect.stringMatching(/^OCSP response: the response is outdated \(nextUpdate/)],
    });
    // Validated later, the response still covers a signature made while it was current.
    expect(report([good], [], { at: new Date(), now: twoDaysOn })).toMatchObject({ status: "good" });
    // The grace absorbs clock drift, and is configurable.
    const justAfter = new Date(Date.now() + DAY + 60_000);
    expect(checkOcspResponse(good, certificate, issuer.certificate, { now: justAfter }).response).toBe(good);
    expect(() =>
      checkOcspResponse(good, certificate, issuer.certificate, { now: justAfter, graceMs: 0 }),
    ).toThrow(/outdated/);
  });

  it("issued in the future: refused, by either policy", () => {
    const yesterday = daysFromNow(-1);
    expect(() => checkOcspResponse(good, certificate, issuer.certificate, { now: yesterday })).toThrow(
      /issued in the future/,
    );
    expect(report([good], [], { at: yesterday, now: yesterday })).toMatchObject({ status: "unknown" });
  });

  it("unauthorised responder: neither the CA nor a responder it delegated OCSP signing to", async () => {
    const stranger = await opensslOcspResponse(issuer, certificate, "good", { responder: other.root });
    const notAResponder = await issueCertificate({ subject: "CN=not a responder", issuer });
    const undelegated = await opensslOcspResponse(issuer, certificate, "good", { responder: notAResponder });
    for (const response of [stranger, undelegated]) {
      expect(rejection(() => checkOcspResponse(response, certificate, issuer.certificate))).toMatchObject({
        code: "E_REVOCATION",
        permanent: false,
        message: expect.stringMatching(/not signed by the CA or its delegated responder/),
      });
      expect(report([response], [])).toMatchObject({
        status: "unknown",
        problems: ["OCSP response: the response is not signed by the CA or its delegated responder"],
      });
    }
  });

  it("a delegated responder with id-kp-OCSPSigning answers for its CA; its certificate is returned", async () => {
    const delegated = await issueCertificate({
      subject: "CN=esign test OCSP responder",
      issuer,
      extendedKeyUsage: { oids: ["1.3.6.1.5.5.7.3.9"], critical: false },
    });
    const response = await opensslOcspResponse(issuer, certificate, "good", { responder: delegated });
    expect(checkOcspResponse(response, certificate, issuer.certificate).certificates).toEqual([
      delegated.certificate,
    ]);
    expect(report([response], [])).toMatchObject({ status: "good", source: "ocsp" });
    // The same response checked against another CA: the responder is not that CA's.
    expect(() => checkOcspResponse(response, certificate, pki.root.certificate)).toThrow(/not signed/);
  });

  it("accepts RSASSA-PSS signatures on OCSP responses and CRLs under both policies", async () => {
    const rsa = await createTestPki({ keyType: "rsa" });
    const pss = await opensslOcspResponse(rsa.root, rsa.signer.certificate, "good", { pss: true });
    expect(checkOcspResponse(pss, rsa.signer.certificate, rsa.root.certificate).response).toBe(pss);
    expect(revocationStatus(rsa.signer.certificate, [rsa.root.certificate], [pss], [])).toMatchObject({
      status: "good",
      source: "ocsp",
    });
    const pssKeys = await createTestPki({ keyType: "rsa-pss" });
    const crl = await issueCrl(pssKeys.root, [pssKeys.signer.certificate]);
    expect(() => checkCrl(crl, pssKeys.signer.certificate, pssKeys.root.certificate)).toThrow(/is revoked/);
    expect(revocationStatus(pssKeys.signer.certificate, [pssKeys.root.certificate], [], [crl])).toMatchObject(
      { status: "revoked", source: "crl" },
    );
  });

  describe("CRLs", async () => {
    const clean = await issueCrl(issuer);
    const listing = await issueCrl(issuer, [certificate]);

    it("good and revoked", () => {
      expect(checkCrl(clean, certificate, issuer.certificate)).toBe(clean);
      expect(report([], [clean])).toMatchObject({ status: "good", source: "crl", problems: [] });
      expect(rejection(() => checkCrl(listing, certificate, issuer.certificate))).toMatchObject({
        code: "E_REVOCATION",
        permanent: true,
      });
      expect(report([], [listing])).toMatchObject({ status: "revoked", source: "crl" });
    });

    it("stale once nextUpdate (a week) is past", () => {
      const later = daysFromNow(8);
      expect(() => checkCrl(clean, certificate, issuer.certificate, { now: later })).toThrow(/outdated/);
      expect(report([], [clean], { at: later, now: later })).toMatchObject({
        status: "unknown",
        problems: [expect.stringMatching(/^CRL: outdated/)],
      });
    });

    it("only the issuer's own CRL, signed with its key, counts", async () => {
      const rootsCrl = await issueCrl(pki.root);
      expect(() => checkCrl(rootsCrl, certificate, issuer.certificate)).toThrow(/not the CRL of the issuer/);
      expect(report([], [rootsCrl])).toMatchObject({ status: "unknown", source: undefined });
      const forged = await issueCrl({ ...other.root, subject: issuer.subject }, [certificate]);
      expect(() => checkCrl(forged, certificate, issuer.certificate)).toThrow(
        /not signed by the certificate's issuer/,
      );
      expect(report([], [forged])).toMatchObject({
        status: "unknown",
        problems: ["CRL: not signed by the certificate's issuer"],
      });
      // Nothing counts when the issuer certificate is unknown.
      expect(revocationStatus(certificate, [], [], [listing])).toMatchObject({
        status: "unknown",
        problems: [expect.stringMatching(/the issuer of .* is not among the certificates/)],
      });
    });

    it("a counted revocation outweighs a good answer; OCSP is preferred when both are good", () => {
      expect(report([good], [listing])).toMatchObject({ status: "revoked", source: "crl" });
      expect(report([good], [clean])).toMatchObject({ status: "good", source: "ocsp" });
    });
  });
});
