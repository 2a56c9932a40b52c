import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { digestAlgorithmOf, hash, loadLocalCredentials, OID, parseCms, signatureValueOf } from "@esign/pades";
import {
  createTestPki,
  issueCertificate,
  KeyUsageFlags,
  opensslVerifyCms,
  type TestKeyType,
  writeTestPki,
} from "@esign/pades/testing";
import { describe, expect, it } from "vitest";
import {
  CmsBuildingSigner,
  createP12Signer,
  LocalKeyProvider,
  type RawSignatureProvider,
  type Timestamper,
} from "../src";

const PASSWORD = "p12 password";

async function p12Signer(keyType: TestKeyType, timestamper?: Timestamper) {
  const pki = await createTestPki({ keyType, intermediate: true });
  const files = await writeTestPki(
    pki,
    join(tmpdir(), `esign-signers-${randomBytes(6).toString("hex")}`),
    PASSWORD,
  );
  const signer = await createP12Signer({
    credentials: { p12Path: files.legacyP12, password: PASSWORD },
    timestamper,
  });
  return { pki, files, signer };
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: { code?: string; message: string }) => error,
  );
}

describe.each<TestKeyType>(["rsa", "p256", "p384"])("p12 signer with %s keys", (keyType) => {
  it("signs a document digest into a CMS that openssl verifies, within the size estimate", async () => {
    const { pki, signer } = await p12Signer(keyType);
    const description = await signer.describe();
    const digestAlgorithm = digestAlgorithmOf(description.signatureAlgorithm);
    const document = randomBytes(10_000);

    const { cms } = await signer.sign({
      documentDigest: hash(digestAlgorithm, document),
      digestAlgorithm,
      level: "B-B",
    });

    expect(await opensslVerifyCms(cms, document, pki.root.certificate)).toMatchObject({ ok: true });
    expect(cms.length).toBeLessThanOrEqual(await signer.estimateCmsSize("B-B"));
    expect(parseCms(cms).certificates).toHaveLength(3);
  });
});

describe("CmsBuildingSigner", async () => {
  const { pki, files, signer } = await p12Signer("rsa");
  const documentDigest = hash("sha256", Buffer.from("the byte range"));

  it("fails with E_SIGNATURE_MISMATCH when the provider signs something else", async () => {
    const credentials = loadLocalCredentials({
      p12: await readFile(files.p12),
      password: PASSWORD,
    });
    const honest = new LocalKeyProvider(credentials);
    const signsWrongHash: RawSignatureProvider = {
      describe: () => honest.describe(),
      async signHashes(_hashes, toBeSigned) {
        const other = toBeSigned.map((message) =>
          Uint8Array.from(message, (byte, i) => (i === 40 ? byte ^ 1 : byte)),
        );
        return honest.signHashes(
          other.map((message) => hash("sha256", message)),
          other,
        );
      },
    };
    const error = await rejection(
      new CmsBuildingSigner({ provider: signsWrongHash }).sign({
        documentDigest,
        digestAlgorithm: "sha256",
        level: "B-B",
      }),
    );
    expect(error.code).toBe("E_SIGNATURE_MISMATCH");
  });

  it("signs a batch in one provider call, each CMS over its own digest", async () => {
    const documents = [randomBytes(100), randomBytes(200), randomBytes(300)];
    const results = await signer.signBatch(
      documents.map((document) => ({
        documentDigest: hash("sha256", document),
        digestAlgorithm: "sha256",
        level: "B-B",
      })),
    );
    const verdicts = await Promise.all(
      results.map(({ cms }, i) => opensslVerifyCms(cms, documents[i]!, pki.root.certificate)),
    );
    expect(verdicts.map((verdict) => verdict.ok)).toEqual([true, true, true]);
    expect((await opensslVerifyCms(results[0]!.cms, documents[1]!, pki.root.certificate)).ok).toBe(false);
  });

  it("refuses B-T without a time-stamp authority and a digest of the wrong algorithm", async () => {
    expect(
      await rejection(signer.sign({ documentDigest, digestAlgorithm: "sha256", level: "B-T" })),
    ).toMatchObject({
      code: "E_CONFIG",
    });
    const sha384 = hash("sha384", Buffer.from("x"));
    expect(
      await rejection(signer.sign({ documentDigest: sha384, digestAlgorithm: "sha384", level: "B-B" })),
    ).toMatchObject({
      code: "E_CONFIG",
    });
  });

  it("hands the signature value to the timestamper and stores its token as signatureTimeStampToken", async () => {
    const seen: Uint8Array[] = [];
    const token = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x2a);
    const timestamper: Timestamper = {
      async timestamp(signatureValue) {
        seen.push(signatureValue);
        return token;
      },
      estimateTokenSize: async () => 6000,
    };
    const { signer: stamping } = await p12Signer("p256", timestamper);
    const { cms } = await stamping.sign({ documentDigest, digestAlgorithm: "sha256", level: "B-T" });
    const [signerInfo] = parseCms(cms).signerInfos;
    expect(seen).toEqual([signatureValueOf(cms)]);
    expect(signerInfo!.unsignedAttributes).toEqual([{ type: OID.signatureTimeStampToken, values: [token] }]);
    expect(await stamping.estimateCmsSize("B-T")).toBeGreaterThan(
      (await stamping.estimateCmsSize("B-B")) + 6000,
    );
  });

  it("refuses an expired signer certificate or one whose key usage does not allow signing", async () => {
    const DAY = 86_400_000;
    const expired = await issueCertificate({
      subject: "CN=expired signer",
      issuer: pki.root,
      notBefore: new Date(Date.now() - 400 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const encipherOnly = await issueCertificate({
      subject: "CN=encryption only",
      issuer: pki.root,
      keyUsage: KeyUsageFlags.keyEncipherment,
    });
    const serverOnly = await issueCertificate({
      subject: "CN=TLS server",
      issuer: pki.root,
      extendedKeyUsage: { oids: ["1.3.6.1.5.5.7.3.1"], critical: false },
    });
    for (const identity of [expired, encipherOnly, serverOnly]) {
      const unusable = new CmsBuildingSigner({ provider: new LocalKeyProvider(identity) });
      const error = await rejection(
        unusable.sign({ documentDigest, digestAlgorithm: "sha256", level: "B-B" }),
      );
      expect(error.code, identity.subject).toBe("E_CERT");
    }
  });
});
