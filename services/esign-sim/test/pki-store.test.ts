import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_CREDENTIALS, loadOrCreatePki } from "../src/index";
import { RevocationRegistry } from "../src/revocation";
import { scratch } from "./helpers";

const sealEc = DEFAULT_CREDENTIALS.filter((credential) => credential.id === "seal-ec");
const sealRsa = DEFAULT_CREDENTIALS.filter((credential) => credential.id === "seal-rsa");

describe("PKI folder", () => {
  const files = scratch();
  afterAll(() => files.remove());

  it("reuses the PKI, issues certificates for new credentials, and starts over for a new base URL", async () => {
    const dir = files.dir;
    const first = await loadOrCreatePki({ dir, baseUrl: "http://a.test", credentials: sealEc });
    expect(first.outcome).toBe("generated");

    const again = await loadOrCreatePki({ dir, baseUrl: "http://a.test", credentials: sealEc });
    expect(again.outcome).toBe("loaded");
    expect(again.pki.root.der.equals(first.pki.root.der)).toBe(true);
    expect(again.pki.credentials.get("seal-ec")!.der.equals(first.pki.credentials.get("seal-ec")!.der)).toBe(
      true,
    );

    const extended = await loadOrCreatePki({
      dir,
      baseUrl: "http://a.test",
      credentials: [...sealEc, ...sealRsa],
    });
    expect(extended.outcome).toBe("extended");
    expect(extended.pki.root.der.equals(first.pki.root.der)).toBe(true);
    expect(extended.pki.credentials.get("seal-rsa")!.certificate.issuer).toBe(
      first.pki.issuing.certificate.subject,
    );

    const revocations = await RevocationRegistry.open(dir);
    const seal = first.pki.credentials.get("seal-ec")!.certificate;
    await revocations.revoke(seal.issuer, seal.serialNumber, "keyCompromise");
    expect((await RevocationRegistry.open(dir)).find(seal.issuer, seal.serialNumber)?.reason).toBe(
      "keyCompromise",
    );

    const moved = await loadOrCreatePki({ dir, baseUrl: "http://b.test", credentials: sealEc });
    expect(moved.outcome).toBe("regenerated-for-new-base-url");
    expect(moved.pki.root.der.equals(first.pki.root.der)).toBe(false);
    expect(new X509Certificate(moved.pki.credentials.get("seal-ec")!.der).infoAccess).toContain(
      "http://b.test/ocsp",
    );
    expect(existsSync(join(dir, "revocations.json"))).toBe(false);
  });
});
