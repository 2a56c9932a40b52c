import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadLocalCredentials, signData, verifyData } from "../src";
import { createTestPki, type TestKeyType, toPem, writeTestPki } from "../src/testing";
import { run, scratchDirectory } from "./helpers";

const directory = await scratchDirectory();
const PASSWORD = "correct horse";

function keyError(action: () => unknown): { code?: string; message: string } {
  try {
    action();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error("expected an error");
}

async function pkcs12Encryption(path: string, legacy: boolean): Promise<string> {
  const args = ["pkcs12", "-info", "-noout", "-in", path, "-passin", `pass:${PASSWORD}`];
  const { stderr } = await run("openssl", legacy ? [...args, "-legacy"] : args);
  // "PKCS7 Encrypted data: <cipher>" protects the certificates, "Shrouded Keybag: <cipher>" the key.
  return stderr
    .split("\n")
    .filter((line) => /^(PKCS7 Encrypted data|Shrouded Keybag):/.test(line))
    .join("\n");
}

describe.each<TestKeyType>(["rsa", "p256", "p384"])("PKCS#12 with %s keys", (keyType) => {
  it("loads modern (AES-256 PBES2) and legacy (RC2-40 + 3DES) files to the same key, certificate and chain", async () => {
    const pki = await createTestPki({ keyType, intermediate: true });
    const files = await writeTestPki(pki, join(directory, keyType), PASSWORD);
    expect(await pkcs12Encryption(files.p12, false)).toMatch(
      /Encrypted data: PBES2.*AES-256-CBC[\s\S]*Keybag: PBES2.*AES-256-CBC/,
    );
    expect(await pkcs12Encryption(files.legacyP12, true)).toMatch(
      /Encrypted data: pbeWithSHA1And40BitRC2-CBC[\s\S]*Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/,
    );

    for (const path of [files.p12, files.legacyP12]) {
      const credentials = loadLocalCredentials({ p12: await readFile(path), password: PASSWORD });
      expect(Buffer.from(credentials.certificate)).toEqual(Buffer.from(pki.signer.certificate));
      expect(credentials.chain.map((der) => Buffer.from(der))).toEqual(
        pki.signer.chain.map((der) => Buffer.from(der)),
      );
      expect(credentials.signatureAlgorithm).toBe(pki.signer.signatureAlgorithm);
      const data = Buffer.from("to be signed");
      const signature = signData(credentials.privateKey, credentials.signatureAlgorithm, data);
      expect(verifyData(pki.signer.privateKey, credentials.signatureAlgorithm, data, signature)).toBe(true);
    }
  });
});

describe("key loading failures and PEM input", async () => {
  const pki = await createTestPki({ keyType: "rsa" });
  const files = await writeTestPki(pki, join(directory, "failures"), PASSWORD);

  it("rejects a wrong password with E_KEY for both PKCS#12 flavours", async () => {
    for (const path of [files.p12, files.legacyP12]) {
      const error = keyError(() => loadLocalCredentials({ p12: readFileSync(path), password: "wrong" }));
      expect(error.code).toBe("E_KEY");
      expect(error.message).toMatch(/password/);
    }
  });

  it("rejects a PKCS#12 without a private key", async () => {
    const certificatesOnly = join(directory, "failures", "certs-only.p12");
    await run("openssl", [
      ...["pkcs12", "-export", "-nokeys", "-in", files.signerCertPem, "-passout", `pass:${PASSWORD}`],
      ...["-out", certificatesOnly],
    ]);
    const error = keyError(() =>
      loadLocalCredentials({ p12: readFileSync(certificatesOnly), password: PASSWORD }),
    );
    expect(error).toMatchObject({ code: "E_KEY", message: "PKCS#12 contains no private key" });
  });

  it("rejects a certificate that does not belong to the key", async () => {
    const other = await createTestPki({ keyType: "rsa" });
    const keyPem = pki.signer.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const error = keyError(() => loadLocalCredentials({ keyPem, certPem: toPem(other.signer.certificate) }));
    expect(error).toMatchObject({ code: "E_KEY", message: "no certificate matches the private key" });
  });

  it("loads PEM key + certificate + chain and honours a requested RSA-PSS algorithm", async () => {
    const credentials = loadLocalCredentials(
      {
        keyPem: await readFile(files.signerKeyPem, "utf8"),
        certPem: await readFile(files.signerCertPem, "utf8"),
        chainPem: await readFile(files.chainPem, "utf8"),
      },
      { signatureAlgorithm: "rsa-pss-sha256" },
    );
    expect(credentials.signatureAlgorithm).toBe("rsa-pss-sha256");
    expect(Buffer.from(credentials.chain[0]!)).toEqual(Buffer.from(pki.root.certificate));
    const error = keyError(() =>
      loadLocalCredentials(
        { keyPem: pki.signer.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), certPem: "" },
        { signatureAlgorithm: "ecdsa-sha256" },
      ),
    );
    expect(error.code).toBe("E_KEY");
  });
});

describe("PKCS#12 with an RSA-PSS key (id-RSASSA-PSS public key)", () => {
  it("keeps the key type and the certificate bytes, and signs with RSASSA-PSS", async () => {
    const path = (file: string) => join(directory, "pss", file);
    await run("mkdir", ["-p", path("")]);
    await run("openssl", [
      "genpkey",
      "-algorithm",
      "RSA-PSS",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      path("key.pem"),
    ]);
    await run("openssl", [
      ...[
        "req",
        "-x509",
        "-key",
        path("key.pem"),
        "-out",
        path("cert.pem"),
        "-subj",
        "/CN=PSS signer",
        "-days",
        "2",
      ],
      ...["-addext", "keyUsage=critical,digitalSignature,nonRepudiation"],
    ]);
    for (const legacy of [false, true]) {
      const p12 = path(legacy ? "legacy.p12" : "modern.p12");
      await run("openssl", [
        ...["pkcs12", "-export", "-inkey", path("key.pem"), "-in", path("cert.pem")],
        ...["-passout", `pass:${PASSWORD}`, "-out", p12, ...(legacy ? ["-legacy"] : [])],
      ]);
      const credentials = loadLocalCredentials({ p12: readFileSync(p12), password: PASSWORD });
      expect(credentials.privateKey.asymmetricKeyType).toBe("rsa-pss");
      expect(credentials.signatureAlgorithm).toBe("rsa-pss-sha256");
      const pem = await readFile(path("cert.pem"), "utf8");
      expect(toPem(credentials.certificate)).toBe(pem);
      const data = Buffer.from("signed attributes");
      const signature = signData(credentials.privateKey, credentials.signatureAlgorithm, data);
      const publicKey = new X509Certificate(credentials.certificate).publicKey;
      expect(verifyData(publicKey, "rsa-pss-sha256", data, signature)).toBe(true);
    }
  });
});
