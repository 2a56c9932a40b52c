import { describe, expect, it } from "vitest";
import { revocationStatus } from "../src/revocation/status";
import { createTestPki, issueCertificate, issueCrl, opensslOcspResponse } from "../src/testing";

describe("revocationStatus", async () => {
  const pki = await createTestPki({ keyType: "p256", intermediate: true });
  const issuer = pki.intermediate!;
  const other = await createTestPki({ keyType: "p256" });
  const pool = [pki.intermediate!.certificate, pki.root.certificate];

  it("reads good and revoked answers from OCSP responses made by openssl", async () => {
    const good = await opensslOcspResponse(issuer, pki.signer.certificate, "good");
    const revoked = await opensslOcspResponse(issuer, pki.signer.certificate, "revoked");
    expect(revocationStatus(pki.signer.certificate, pool, [good], [])).toEqual({
      source: "ocsp",
      status: "good",
    });
    expect(revocationStatus(pki.signer.certificate, pool, [revoked], [])).toEqual({
      source: "ocsp",
      status: "revoked",
    });
    // A response about another certificate says nothing about this one.
    expect(
      revocationStatus(other.signer.certificate, [...pool, other.root.certificate], [good], []),
    ).toBeUndefined();
    // An OCSP response signed by a key that is neither the issuer's nor a delegated responder's.
    const stranger = await opensslOcspResponse(issuer, pki.signer.certificate, "good", other.root);
    expect(revocationStatus(pki.signer.certificate, pool, [stranger], [])).toBeUndefined();
  });

  it("accepts a delegated responder only with the OCSPSigning extended key usage", async () => {
    const delegated = await issueCertificate({
      subject: "CN=esign test OCSP responder",
      issuer,
      extendedKeyUsage: { oids: ["1.3.6.1.5.5.7.3.9"], critical: false },
    });
    const response = await opensslOcspResponse(issuer, pki.signer.certificate, "revoked", delegated);
    expect(revocationStatus(pki.signer.certificate, pool, [response], [])).toEqual({
      source: "ocsp",
      status: "revoked",
    });

    const notAResponder = await issueCertificate({ subject: "CN=not a responder", issuer });
    const unauthorized = await opensslOcspResponse(issuer, pki.signer.certificate, "good", notAResponder);
    expect(revocationStatus(pki.signer.certificate, pool, [unauthorized], [])).toBeUndefined();
  });

  it("reads CRLs of the certificate's issuer only, and prefers OCSP", async () => {
    const crl = await issueCrl(issuer, [pki.signer.certificate]);
    expect(revocationStatus(pki.signer.certificate, pool, [], [crl])).toEqual({
      source: "crl",
      status: "revoked",
    });
    expect(revocationStatus(pki.signer.certificate, pool, [], [await issueCrl(issuer)])).toEqual({
      source: "crl",
      status: "good",
    });
    expect(revocationStatus(pki.signer.certificate, pool, [], [await issueCrl(pki.root)])).toBeUndefined();
    // A CRL naming the right issuer but signed by another key does not count.
    const forged = await issueCrl({ ...other.root, subject: issuer.subject }, [pki.signer.certificate]);
    expect(revocationStatus(pki.signer.certificate, pool, [], [forged])).toBeUndefined();
    // Nor does anything when the issuer certificate is unknown.
    expect(revocationStatus(pki.signer.certificate, [], [], [crl])).toBeUndefined();
    const good = await opensslOcspResponse(issuer, pki.signer.certificate, "good");
    expect(revocationStatus(pki.signer.certificate, pool, [good], [crl])).toEqual({
      source: "ocsp",
      status: "good",
    });
  });
});
