import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { type DigestAlgorithm, hash } from "../pki/algorithms";
import { type IssueOptions, issueCertificate, type TestIdentity, toPem } from "./pki";

const run = promisify(execFile);
const TIME_STAMPING = "1.3.6.1.5.5.7.3.8";

/** A TSA certificate as RFC 3161 wants it: EKU timeStamping only, critical. */
export function issueTsaCertificate(
  issuer: TestIdentity,
  options: Pick<IssueOptions, "ocspUrl"> = {},
): Promise<TestIdentity> {
  return issueCertificate({
    subject: "CN=esign test TSA,O=esign-agent tests",
    issuer,
    extendedKeyUsage: { oids: [TIME_STAMPING], critical: true },
    ...options,
  });
}

/**
 * A time-stamp authority for tests, run by `openssl ts -reply`: independent of our own code, so
 * it checks that what we ask for and embed is what a real TSA produces. Has the shape of
 * `Timestamper` from @esign/signers.
 */
export async function createOpensslTimestamper(tsa: TestIdentity, directory: string) {
  await mkdir(directory, { recursive: true });
  const files = {
    config: join(directory, "tsa.cnf"),
    cert: join(directory, "tsa.pem"),
    key: join(directory, "tsa.key.pem"),
    chain: join(directory, "tsa-chain.pem"),
    serial: join(directory, "tsa-serial"),
  };
  await writeFile(files.cert, toPem(tsa.certificate));
  await writeFile(files.key, tsa.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(files.chain, tsa.chain.map((der) => toPem(der)).join(""));
  await writeFile(files.serial, "01\n");
  await writeFile(
    files.config,
    [
      "[ tsa ]",
      "default_tsa = test_tsa",
      "[ test_tsa ]",
      `serial = ${files.serial}`,
      `signer_cert = ${files.cert}`,
      `signer_key = ${files.key}`,
      `certs = ${files.chain}`,
      "signer_digest = sha256",
      "default_policy = 1.3.6.1.4.1.99999.1",
      "digests = sha256, sha384, sha512",
      "accuracy = secs:1",
      "ess_cert_id_alg = sha256",
      "",
    ].join("\n"),
  );
  let requests = 0;
  /** A token over a digest the caller computed (a /DocTimeStamp's byte range). */
  const timestampDigest = async (digest: Uint8Array, algorithm: DigestAlgorithm): Promise<Uint8Array> => {
    const base = join(directory, `request-${++requests}`);
    await run("openssl", [
      ...["ts", "-query", "-digest", Buffer.from(digest).toString("hex"), `-${algorithm}`, "-cert"],
      ...["-out", `${base}.tsq`],
    ]);
    await run("openssl", [
      ...["ts", "-reply", "-config", files.config, "-queryfile", `${base}.tsq`],
      ...["-token_out", "-out", `${base}.tst`],
    ]);
    return new Uint8Array(await readFile(`${base}.tst`));
  };
  return {
    timestampDigest,
    /** A token over `data` (a signature value, for B-T). */
    timestamp: (data: Uint8Array) => timestampDigest(hash("sha256", data), "sha256"),
    async estimateTokenSize(): Promise<number> {
      return 1500 + tsa.certificate.length + tsa.chain.reduce((sum, der) => sum + der.length, 0);
    },
  };
}
