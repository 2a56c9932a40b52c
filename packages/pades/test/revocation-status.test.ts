import { describe, expect, it } from "vitest";
import { revocationStatus } from "../src/revocation-status";
import { createTestPki, issueCrl, opensslOcspResponse } from "../src/testing";

describe("revocationStatus", async () => {
  const pki = await createTestPki({ keyType: "p256", intermediate: true });
  const issuer = pki.intermediate!;
  const other = await createTestPki({ keyType: "p256" });

  it("reads good and revoked answers from OCSP responses made by openssl", async () => {
    const good = await opensslOcspResponse(issuer, pki.signer.certificate, "good");
    const revoked = await opensslOcspResponse(issuer, pki.signer.certificate, "revoked");
    expect(revocationStatus(pki.signer.certificate, [good], [])).toEqual({ source: "ocsp", status: "good" });
    expect(revocationStatus(pki.signer.certificate, [revoked], [])).toEqual({
      source: "ocsp",
      status: "revoked",
    });
    // A response about another certificate says nothing about this one.
    expect(revocationStatus(other.signer.certificate, [good], [])).toBeUndefined();
  });

  it("reads CRLs of the certificate's issuer only, and prefers OCSP", async () => {
    const crl = await issueCrl(issuer, [pki.signer.certificate]);
    expect(revocationStatus(pki.signer.certificate, [], [crl])).toEqual({ source: "crl", status: "revoked" });
    expect(revocationStatus(pki.signer.certificate, [], [await issueCrl(issuer)])).toEqual({
      source: "crl",
      status: "good",
    });
    expect(revocationStatus(pki.signer.certificate, [], [await issueCrl(pki.root)])).toBeUndefined();
    const good = await opensslOcspResponse(issuer, pki.signer.certificate, "good");
    expect(revocationStatus(pki.signer.certificate, [good], [crl])).toEqual({
      source: "ocsp",
      status: "good",
    });
  });
});
