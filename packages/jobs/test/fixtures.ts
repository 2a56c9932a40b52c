import type { SignJobInput, SignResult } from "../src";

export function signJob(overrides: Partial<SignJobInput> = {}): SignJobInput {
  return { input: { store: "default", key: "in/contract.pdf" }, signer: "hr-seal", ...overrides };
}

export function signResult(overrides: Partial<SignResult> = {}): SignResult {
  return {
    schemaVersion: 1,
    output: { store: "default", key: "signed/in/contract.pdf" },
    size: 123_456,
    sha256: "a".repeat(64),
    fieldName: "Signature1",
    signingTime: "2026-11-27T23:00:00.000Z",
    level: "B-T",
    signerSubject: "CN=HR Seal,O=Example Corp,C=DE",
    signatureId: "sig-0001",
    attempts: 1,
    ...overrides,
  };
}
