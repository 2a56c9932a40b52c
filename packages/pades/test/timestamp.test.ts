import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  addUnsignedAttribute,
  hash,
  OID,
  parseCms,
  signatureValueOf,
  verifyCms,
  verifyTimestampToken,
} from "../src";
import { parseBerCms } from "../src/cms/parse";
import { createOpensslTimestamper, createTestPki, issueTsaCertificate, toPem } from "../src/testing";
import { run, scratchDirectory, signContent } from "./helpers";

const directory = await scratchDirectory();

describe("signature time-stamps (B-T)", async () => {
  const pki = await createTestPki({ keyType: "rsa" });
  const tsa = await issueTsaCertificate(pki.root);
  const timestamper = await createOpensslTimestamper(tsa, join(directory, "tsa"));
  const content = randomBytes(2048);
  const cms = signContent(pki.signer, content);
  const token = await timestamper.timestamp(signatureValueOf(cms));
  const stamped = addUnsignedAttribute(cms, OID.signatureTimeStampToken, token);

  it("reads a DER CMS the quick way exactly as the full ASN.1 parser does, and BER the full way", async () => {
    const chained = signContent(
      (await createTestPki({ keyType: "rsa", intermediate: true })).signer,
      content,
    );
    for (const der of [cms, stamped, token, chained]) {
      expect(parseCms(der)).toEqual(parseBerCms(der));
    }
    expect(parseCms(chained).certificates.length).toBeGreaterThan(1);
    expect(parseCms(token).encapsulatedContent).toBeDefined();
    // Indefinite lengths (BER) are not DER: the full parser reads them.
    const ber = Uint8Array.of(0x30, 0x80, ...cms.subarray(4), 0x00, 0x00);
    expect(cms[1]).toBe(0x82);
    expect(parseCms(ber).certificates).toEqual(parseCms(cms).certificates);
    expect(() => parseCms(cms.subarray(0, cms.length - 10))).toThrow(
      expect.objectContaining({ code: "E_VERIFY" }),
    );
  });

  it("verifies the token over the signature value, as openssl ts -verify does", async () => {
    await writeFile(join(directory, "token.tst"), token);
    await writeFile(join(directory, "signature-value.bin"), signatureValueOf(cms));
    await writeFile(join(directory, "root.pem"), toPem(pki.root.certificate));
    const { stdout } = await run("openssl", [
      ...["ts", "-verify", "-token_in", "-in", join(directory, "token.tst")],
      ...["-data", join(directory, "signature-value.bin"), "-CAfile", join(directory, "root.pem")],
    ]);
    expect(stdout).toContain("Verification: OK");

    const report = await verifyCms(stamped, { content, trustRoots: [pki.root.certificate] });
    expect(report.valid).toBe(true);
    expect(report.signatureTimestamp).toMatchObject({ valid: true, trusted: true, imprintMatches: true });
    const genTime = Date.parse(report.signatureTimestamp!.genTime);
    expect(Math.abs(genTime - Date.now())).toBeLessThan(10 * 60_000);
  });

  it("rejects a token whose imprint is over other data", async () => {
    const report = await verifyTimestampToken(
      token,
      async (algorithm) => hash(algorithm, Buffer.from("other")),
      [pki.root.certificate],
    );
    expect(report).toMatchObject({ valid: false, imprintMatches: false, signatureValid: true });
  });
});
