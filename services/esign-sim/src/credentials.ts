import type { KeySpec } from "./pki/keys";

/**
 * A signing credential as the remote service knows it: a key, its certificate and how the owner
 * authorises its use. Seals are the organisation's and authorised by the API client alone;
 * personal credentials need the owner's PIN and/or a one-time password for every authorisation.
 */
export interface CredentialDefinition {
  id: string;
  description: string;
  kind: "seal" | "personal";
  key: KeySpec;
  /** Subject DN of the certificate, e.g. "CN=Alice Example, O=Example Corp". */
  subject: string;
  email?: string;
  authMode: "implicit" | "explicit";
  /** Explicit credentials: the PIN the owner must send; absent means no PIN is asked. */
  pin?: string;
  /** Explicit credentials: whether a one-time password from credentials/sendOTP is required. */
  otp?: boolean;
  /** Most hashes one signHash call may sign with this credential. */
  multisign: number;
}

export const DEFAULT_CREDENTIALS: readonly CredentialDefinition[] = [
  {
    id: "seal-rsa",
    description: "Example Corp organisation seal (RSA-2048)",
    kind: "seal",
    key: { type: "RSA", bits: 2048 },
    subject: "CN=Example Corp Seal, O=Example Corp, C=DE",
    authMode: "implicit",
    multisign: 100,
  },
  {
    id: "seal-ec",
    description: "Example Corp organisation seal (ECDSA P-256)",
    kind: "seal",
    key: { type: "EC", curve: "P-256" },
    subject: "CN=Example Corp Seal EC, O=Example Corp, C=DE",
    authMode: "implicit",
    multisign: 100,
  },
  {
    id: "alice-rsa",
    description: "Alice Example, personal signing credential (RSA-3072)",
    kind: "personal",
    key: { type: "RSA", bits: 3072 },
    subject: "CN=Alice Example, O=Example Corp, C=DE",
    email: "alice@example.com",
    authMode: "explicit",
    pin: "1234",
    otp: true,
    multisign: 10,
  },
];
