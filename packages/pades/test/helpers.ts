import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll } from "vitest";
import { assembleCms, buildSignedAttributes, digestAlgorithmOf, hash, signData } from "../src";
import { type TestIdentity, toPem } from "../src/testing";

export const run = promisify(execFile);

/** A scratch directory removed after the test file. */
export async function scratchDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "esign-pades-"));
  afterAll(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

/** Signs `content` as a detached PAdES B-B CMS with the identity's key. */
export function signContent(identity: TestIdentity, content: Uint8Array): Uint8Array {
  const digestAlgorithm = digestAlgorithmOf(identity.signatureAlgorithm);
  const signedAttributes = buildSignedAttributes({
    documentDigest: hash(digestAlgorithm, content),
    signerCertificate: identity.certificate,
    digestAlgorithm,
  });
  return assembleCms({
    signedAttributes,
    signature: signData(identity.privateKey, identity.signatureAlgorithm, signedAttributes),
    signatureAlgorithm: identity.signatureAlgorithm,
    signerCertificate: identity.certificate,
    certificates: identity.chain,
  });
}

/** Runs `openssl cms -verify` on a detached CMS; resolves with openssl's exit status and output. */
export async function opensslVerify(
  directory: string,
  cms: Uint8Array,
  content: Uint8Array,
  root: Uint8Array,
): Promise<{ ok: boolean; output: string }> {
  const name = randomBytes(6).toString("hex");
  const files = {
    cms: join(directory, `${name}.p7s`),
    content: join(directory, `${name}.bin`),
    root: join(directory, `${name}.pem`),
  };
  await writeFile(files.cms, cms);
  await writeFile(files.content, content);
  await writeFile(files.root, toPem(root));
  const args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", files.cms, "-content", files.content];
  try {
    const { stderr } = await run("openssl", [
      ...args,
      "-CAfile",
      files.root,
      "-purpose",
      "any",
      "-out",
      "/dev/null",
    ]);
    return { ok: true, output: stderr };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr ?? error) };
  }
}
