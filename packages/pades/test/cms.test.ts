import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { addUnsignedAttribute, digestAlgorithmOf, hash, OID, parseCms, signatureValueOf } from "../src";
import { children, octetsOf, oidOf, parseBer, rawBytes } from "../src/asn1/read";
import { certificateIdentity } from "../src/pki/certificate";
import { createTestPki, opensslVerifyCms, type TestKeyType } from "../src/testing";
import { signContent } from "./helpers";

const KEY_TYPES: TestKeyType[] = ["rsa", "rsa-pss", "p256", "p384"];

describe.each(KEY_TYPES)("PAdES B-B CMS with %s keys", (keyType) => {
  it("verifies with openssl cms -verify against the root, through an intermediate CA", async () => {
    const pki = await createTestPki({ keyType, intermediate: true });
    const content = randomBytes(5000);
    const cms = signContent(pki.signer, content);

    const verdict = await opensslVerifyCms(cms, content, pki.root.certificate);
    expect(verdict.output).toContain("Verification successful");
    expect(verdict.ok).toBe(true);

    const tampered = Buffer.from(content);
    tampered[1234]! ^= 0x01;
    expect((await opensslVerifyCms(cms, tampered, pki.root.certificate)).ok).toBe(false);
  });

  it("carries exactly content-type, message-digest and signing-certificate-v2", async () => {
    const pki = await createTestPki({ keyType });
    const content = randomBytes(100);
    const parsed = parseCms(signContent(pki.signer, content));
    const [signer] = parsed.signerInfos;
    const digestAlgorithm = digestAlgorithmOf(pki.signer.signatureAlgorithm);

    expect(signer!.signedAttributes.map((a) => a.type).sort()).toEqual(
      [OID.contentType, OID.messageDigest, OID.signingCertificateV2].sort(),
    );
    const value = (type: string) => signer!.signedAttributes.find((a) => a.type === type)!.values;
    expect(oidOf(parseBer(value(OID.contentType)[0]!, "content type", "E_VERIFY"))).toBe(OID.data);
    expect(value(OID.messageDigest)[0]!.subarray(2)).toEqual(hash(digestAlgorithm, content));

    // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { [hashAlgorithm], certHash, issuerSerial } }
    const essCertId = children(
      children(parseBer(value(OID.signingCertificateV2)[0]!, "scv2", "E_VERIFY"))[0]!,
    )[0]!;
    const fields = children(essCertId);
    expect(fields).toHaveLength(digestAlgorithm === "sha256" ? 2 : 3);
    const [certHash, issuerSerial] = fields.slice(-2);
    expect(octetsOf(certHash!)).toEqual(hash(digestAlgorithm, pki.signer.certificate));
    const identity = certificateIdentity(pki.signer.certificate);
    const [generalNames, serialNumber] = children(issuerSerial!);
    expect(rawBytes(children(children(generalNames!)[0]!)[0]!)).toEqual(identity.issuer);
    expect(rawBytes(serialNumber!)).toEqual(identity.serialNumber);

    expect(parsed.encapsulatedContentType).toBe(OID.data);
    expect(parsed.encapsulatedContent).toBeUndefined();
    expect(parsed.certificates).toHaveLength(2);
    // The signed attributes travel as [0] IMPLICIT and are DER-sorted as a SET.
    const raw = signer!.fields[3]!;
    expect(raw[0]).toBe(0xa0);
  });
});

describe("unsigned attributes", () => {
  it("adds a value without touching what is signed, and keeps openssl happy", async () => {
    const pki = await createTestPki({ keyType: "p256" });
    const content = randomBytes(64);
    const cms = signContent(pki.signer, content);
    const fakeToken = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x07);

    const once = addUnsignedAttribute(cms, OID.signatureTimeStampToken, fakeToken);
    const twice = addUnsignedAttribute(
      once,
      OID.signatureTimeStampToken,
      fakeToken.map((b, i) => (i === 4 ? 8 : b)),
    );
    const parsed = parseCms(twice).signerInfos[0]!;
    expect(parsed.unsignedAttributes).toHaveLength(1);
    expect(parsed.unsignedAttributes[0]!.values).toHaveLength(2);
    expect(signatureValueOf(twice)).toEqual(signatureValueOf(cms));
    expect(parseCms(twice).signerInfos[0]!.signedAttributesDer).toEqual(
      parseCms(cms).signerInfos[0]!.signedAttributesDer,
    );
    expect((await opensslVerifyCms(twice, content, pki.root.certificate)).ok).toBe(true);
  });
});
