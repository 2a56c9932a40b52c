import { generateKeyPairSync, sign, verify } from "node:crypto";
import { isEsignError } from "@esign/errors";
import { describe, expect, it } from "vitest";
import { ecdsaSignatureToDer } from "../src/ecdsa";

describe("ecdsaSignatureToDer", () => {
  it.each([
    ["prime256v1", "sha256", 32],
    ["secp384r1", "sha384", 48],
    ["secp521r1", "sha512", 66],
  ] as const)("turns raw r||s from %s into DER that verifies", (namedCurve, digest, fieldBytes) => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve });
    const data = Buffer.from("signed attributes");
    // Many signatures, so that r or s with a leading zero or the high bit set come up.
    for (let round = 0; round < 40; round++) {
      const raw = sign(digest, data, { key: privateKey, dsaEncoding: "ieee-p1363" });
      expect(raw).toHaveLength(2 * fieldBytes);
      const der = ecdsaSignatureToDer(raw, fieldBytes);
      expect(der[0]).toBe(0x30);
      expect(verify(digest, data, { key: publicKey, dsaEncoding: "der" }, der)).toBe(true);
    }
  });

  it("passes DER through and refuses a signature of the wrong size", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const der = sign("sha256", Buffer.from("x"), { key: privateKey, dsaEncoding: "der" });
    expect(Buffer.from(ecdsaSignatureToDer(der, 32))).toEqual(der);
    let caught: unknown;
    try {
      ecdsaSignatureToDer(new Uint8Array(63), 32);
    } catch (error) {
      caught = error;
    }
    expect(isEsignError(caught) && caught.code).toBe("E_SIGNER_BAD_RESPONSE");
  });
});
