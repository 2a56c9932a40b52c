import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll } from "vitest";
import { assembleCms, buildSignedAttributes, digestAlgorithmOf, hash, signData } from "../src";
import type { TestIdentity } from "../src/testing";

export const run = promisify(execFile);

/** A scratch directory removed after the test file. */
export async function scratchDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "esign-pades-"));
  afterAll(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

/** Signs `content` as a detached PAdES B-B CMS with the identity's key. */
export function signContent(identity: TestIdentity, content: Uint8Array): Uint8Array {
  return signDigest(identity, hash(digestAlgorithmOf(identity.signatureAlgorithm), content));
}

/** A detached PAdES B-B CMS over content whose digest (with the identity's hash) is `documentDigest`. */
export function signDigest(identity: TestIdentity, documentDigest: Uint8Array): Uint8Array {
  const digestAlgorithm = digestAlgorithmOf(identity.signatureAlgorithm);
  const signedAttributes = buildSignedAttributes({
    documentDigest,
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
