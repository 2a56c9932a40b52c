import { constants, createHash, verify, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../src/index";
import { cscClient, http, startWithTestPki } from "./helpers";

const SHA256 = "2.16.840.1.101.3.4.2.1";
const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
const RSA = "1.2.840.113549.1.1.1";
const RSA_PSS = "1.2.840.113549.1.1.10";
const ECDSA_SHA256 = "1.2.840.10045.4.3.2";

type Csc = Awaited<ReturnType<typeof cscClient>>;

const data = (text: string) => Buffer.from(text);
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest();

/** RSASSA-PSS-params for SHA-256, MGF1-SHA-256, salt 32, base64 DER, as CSC signAlgoParams. */
function pssParams(): string {
  const sha256Id = new pkijs.AlgorithmIdentifier({ algorithmId: SHA256, algorithmParams: new asn1js.Null() });
  const params = new pkijs.RSASSAPSSParams({
    hashAlgorithm: sha256Id,
    maskGenAlgorithm: new pkijs.AlgorithmIdentifier({
      algorithmId: "1.2.840.113549.1.1.8",
      algorithmParams: sha256Id.toSchema(),
    }),
    saltLength: 32,
  });
  return Buffer.from(params.toSchema().toBER()).toString("base64");
}

describe("CSC API v2", () => {
  let simulator: Simulator;
  let csc: Csc;

  beforeAll(async () => {
    simulator = await startWithTestPki();
    csc = await cscClient(simulator);
  });
  afterAll(() => simulator.close());

  async function signerCertificate(credentialID: string): Promise<X509Certificate> {
    const info = await csc("credentials/info", { credentialID, certificates: "chain", certInfo: true });
    expect(info.status).toBe(200);
    const [leaf, ...chain] = info.json().cert.certificates as string[];
    expect(chain).toHaveLength(2);
    return new X509Certificate(Buffer.from(leaf!, "base64"));
  }

  it("describes the service and its credentials", async () => {
    const info = (await http(`${simulator.url}/csc/v2/info`, { json: {} })).json();
    expect(info.specs).toMatch(/^2\./);
    expect(info.methods).toContain("signatures/signHash");

    const list = (await csc("credentials/list", {})).json();
    expect(list.credentialIDs).toEqual(["seal-rsa", "seal-ec", "alice-rsa"]);

    const alice = (
      await csc("credentials/info", { credentialID: "alice-rsa", authInfo: true, certInfo: true })
    ).json();
    expect(alice.key).toMatchObject({ status: "enabled", len: 3072 });
    expect(alice.key.algo).toEqual(expect.arrayContaining([RSA, SHA256_WITH_RSA, RSA_PSS]));
    expect(alice.auth.mode).toBe("explicit");
    expect(alice.auth.objects.map((object: { id: string }) => object.id)).toEqual(["PIN", "OTP"]);
    expect(alice.cert).toMatchObject({
      status: "valid",
      subjectDN: expect.stringContaining("Alice Example"),
    });
    expect(alice.cert.validTo).toMatch(/^\d{14}Z$/);
    expect(alice.multisign).toBe(10);

    const seal = (await csc("credentials/info", { credentialID: "seal-ec", authInfo: true })).json();
    expect(seal.auth.mode).toBe("implicit");
    expect(seal.key).toMatchObject({ len: 256, curve: "1.2.840.10045.3.1.7" });
    expect(seal.multisign).toBe(100);
  });

  it("signs several hashes per call with a seal; each signature verifies with the credential's certificate", async () => {
    const certificate = await signerCertificate("seal-rsa");
    const documents = [data("first document"), data("second document"), data("third document")];
    const answer = await csc("signatures/signHash", {
      credentialID: "seal-rsa",
      hashes: documents.map((document) => sha256(document).toString("base64")),
      hashAlgorithmOID: SHA256,
      signAlgo: SHA256_WITH_RSA,
    });
    expect(answer.status).toBe(200);
    const signatures = answer.json().signatures as string[];
    expect(signatures).toHaveLength(3);
    signatures.forEach((signature, index) => {
      expect(
        verify("sha256", documents[index]!, certificate.publicKey, Buffer.from(signature, "base64")),
      ).toBe(true);
    });
    // Order matters: the first signature is not one over the second document.
    expect(
      verify("sha256", documents[1]!, certificate.publicKey, Buffer.from(signatures[0]!, "base64")),
    ).toBe(false);
  });

  it("signs with rsaEncryption + hashAlgorithmOID, RSASSA-PSS and ECDSA (DER r,s)", async () => {
    const document = data("signed three ways");
    const hash = sha256(document).toString("base64");
    const rsaCertificate = await signerCertificate("seal-rsa");

    const pkcs1 = await csc("signatures/signHash", {
      credentialID: "seal-rsa",
      hashes: [hash],
      hashAlgorithmOID: SHA256,
      signAlgo: RSA,
    });
    const pkcs1Signature = Buffer.from(pkcs1.json().signatures[0], "base64");
    expect(verify("sha256", document, rsaCertificate.publicKey, pkcs1Signature)).toBe(true);

    const pss = await csc("signatures/signHash", {
      credentialID: "seal-rsa",
      hashes: [hash],
      signAlgo: RSA_PSS,
      signAlgoParams: pssParams(),
    });
    expect(pss.status).toBe(200);
    const pssKey = {
      key: rsaCertificate.publicKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    };
    expect(verify("sha256", document, pssKey, Buffer.from(pss.json().signatures[0], "base64"))).toBe(true);

    const ecCertificate = await signerCertificate("seal-ec");
    const ecdsa = await csc("signatures/signHash", {
      credentialID: "seal-ec",
      hashes: [hash],
      signAlgo: ECDSA_SHA256,
    });
    const ecdsaSignature = Buffer.from(ecdsa.json().signatures[0], "base64");
    expect(ecdsaSignature[0]).toBe(0x30);
    expect(verify("sha256", document, ecCertificate.publicKey, ecdsaSignature)).toBe(true);
  });

  it("refuses malformed signHash calls with the CSC error shape", async () => {
    const hash = sha256(data("x")).toString("base64");
    const cases: [Record<string, unknown>, string][] = [
      [
        { hashes: [hash], signAlgo: SHA256_WITH_RSA },
        "Missing (or invalid type) string parameter credentialID",
      ],
      [
        { credentialID: "nobody", hashes: [hash], signAlgo: SHA256_WITH_RSA },
        "Invalid parameter credentialID",
      ],
      [{ credentialID: "seal-rsa", hashes: [hash], signAlgo: ECDSA_SHA256 }, "Invalid parameter signAlgo"],
      [{ credentialID: "seal-rsa", hashes: ["AAAA"], signAlgo: SHA256_WITH_RSA }, "Invalid parameter hashes"],
      [
        { credentialID: "seal-rsa", hashes: ["%%%"], signAlgo: SHA256_WITH_RSA },
        "Invalid Base64 hashes string parameter",
      ],
      [
        { credentialID: "seal-rsa", hashes: [hash], signAlgo: RSA },
        "Missing (or invalid type) string parameter hashAlgorithmOID",
      ],
      [
        { credentialID: "seal-rsa", hashes: [], signAlgo: SHA256_WITH_RSA },
        "Missing (or invalid type) array parameter hashes",
      ],
    ];
    for (const [body, description] of cases) {
      const answer = await csc("signatures/signHash", body);
      expect(answer.status, description).toBe(400);
      expect(answer.json()).toEqual({ error: "invalid_request", error_description: description });
    }
  });

  it("refuses calls without a valid access token and clients with a wrong secret", async () => {
    const noToken = await http(`${simulator.url}/csc/v2/credentials/list`, { json: {} });
    expect(noToken.status).toBe(401);
    expect(noToken.json().error).toBe("invalid_token");
    const badToken = await http(`${simulator.url}/csc/v2/credentials/list`, {
      json: {},
      headers: { authorization: "Bearer not-a-token" },
    });
    expect(badToken.status).toBe(401);

    const wrongSecret = await http(`${simulator.url}/csc/v2/oauth2/token`, {
      json: { grant_type: "client_credentials", client_id: "demo", client_secret: "wrong" },
    });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.json().error).toBe("invalid_client");

    // Form-encoded with HTTP Basic client authentication, as many OAuth libraries send it.
    const basic = await http(`${simulator.url}/csc/v2/oauth2/token`, {
      body: Buffer.from("grant_type=client_credentials"),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from("demo:demo-secret").toString("base64")}`,
      },
    });
    expect(basic.status).toBe(200);
    expect(basic.json().token_type).toBe("Bearer");
  });

  describe("explicit authorisation (alice-rsa: PIN 1234 and an OTP)", () => {
    const document = data("alice signs this");
    const hash = sha256(document).toString("base64");
    const signHash = (extra: Record<string, unknown>) =>
      csc("signatures/signHash", {
        credentialID: "alice-rsa",
        hashes: [hash],
        signAlgo: SHA256_WITH_RSA,
        ...extra,
      });
    const authorize = (authData: { id: string; value: string }[], hashes = [hash]) =>
      csc("credentials/authorize", {
        credentialID: "alice-rsa",
        numSignatures: hashes.length,
        hashes,
        hashAlgorithmOID: SHA256,
        authData,
      });
    async function freshOtp(): Promise<string> {
      expect((await csc("credentials/sendOTP", { credentialID: "alice-rsa" })).status).toBe(204);
      const answer = await http(`${simulator.url}/admin/otp/alice-rsa`);
      expect(answer.status).toBe(200);
      return answer.json().otp;
    }

    it("refuses signHash without a SAD and with an invented one", async () => {
      const missing = await signHash({});
      expect(missing.status).toBe(400);
      expect(missing.json().error_description).toBe("Missing (or invalid type) string parameter SAD");
      const invented = await signHash({ SAD: "made-up" });
      expect(invented.status).toBe(400);
      expect(invented.json().error_description).toBe("Invalid parameter SAD");
    });

    it("refuses a wrong PIN and a wrong OTP", async () => {
      const otp = await freshOtp();
      const wrongPin = await authorize([
        { id: "PIN", value: "9999" },
        { id: "OTP", value: otp },
      ]);
      expect(wrongPin.status).toBe(400);
      expect(wrongPin.json().error).toBe("invalid_pin");
      const wrongOtp = await authorize([
        { id: "PIN", value: "1234" },
        { id: "OTP", value: otp === "000000" ? "000001" : "000000" },
      ]);
      expect(wrongOtp.status).toBe(400);
      expect(wrongOtp.json().error).toBe("invalid_otp");
      const noHashes = await csc("credentials/authorize", {
        credentialID: "alice-rsa",
        numSignatures: 1,
        authData: [{ id: "PIN", value: "1234" }],
      });
      expect(noHashes.status).toBe(400);
    });

    it("signs with a SAD from PIN + OTP, only the hashes it was issued for, only as often as issued", async () => {
      const otp = await freshOtp();
      const granted = await authorize([
        { id: "PIN", value: "1234" },
        { id: "OTP", value: otp },
      ]);
      expect(granted.status).toBe(200);
      const { SAD, expiresIn } = granted.json();
      expect(expiresIn).toBeGreaterThan(0);

      // The OTP is single-use.
      const replayedOtp = await authorize([
        { id: "PIN", value: "1234" },
        { id: "OTP", value: otp },
      ]);
      expect(replayedOtp.json().error).toBe("invalid_otp");

      const otherHash = sha256(data("something else")).toString("base64");
      const wrongHash = await csc("signatures/signHash", {
        credentialID: "alice-rsa",
        SAD,
        hashes: [otherHash],
        signAlgo: SHA256_WITH_RSA,
      });
      expect(wrongHash.status).toBe(400);

      const signed = await signHash({ SAD });
      expect(signed.status).toBe(200);
      const certificate = await signerCertificate("alice-rsa");
      const signature = Buffer.from(signed.json().signatures[0], "base64");
      expect(verify("sha256", document, certificate.publicKey, signature)).toBe(true);

      const reused = await signHash({ SAD });
      expect(reused.status).toBe(400);
      expect(reused.json().error_description).toBe("Invalid parameter SAD");
    });
  });

  it("refuses to authorise or sign with a revoked credential and reports it revoked", async () => {
    await simulator.revokeCredential("seal-ec");
    const hash = sha256(data("after revocation")).toString("base64");
    const signed = await csc("signatures/signHash", {
      credentialID: "seal-ec",
      hashes: [hash],
      signAlgo: ECDSA_SHA256,
    });
    expect(signed.status).toBe(400);
    expect(signed.json().error_description).toMatch(/revoked/);
    const authorized = await csc("credentials/authorize", { credentialID: "seal-ec", numSignatures: 1 });
    expect(authorized.status).toBe(400);
    const info = (await csc("credentials/info", { credentialID: "seal-ec" })).json();
    expect(info.cert.status).toBe("revoked");
    expect(info.key.status).toBe("disabled");
    const valid = (await csc("credentials/list", { onlyValid: true })).json();
    expect(valid.credentialIDs).not.toContain("seal-ec");
  });
});
