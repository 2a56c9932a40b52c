import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { X509CrlReason } from "@peculiar/x509";

export type RevocationReason = keyof typeof X509CrlReason;
export const REVOCATION_REASONS = Object.keys(X509CrlReason).filter((key) => Number.isNaN(Number(key))) as [
  RevocationReason,
  ...RevocationReason[],
];

export interface Revocation {
  /** Issuer subject DN, so equal serials from different CAs never mix. */
  issuer: string;
  serialNumber: string;
  revokedAt: string;
  reason: RevocationReason;
}

/** Serials compare as hex without leading zero octets, whatever form the caller had them in. */
export function normaliseSerial(serialHex: string): string {
  return serialHex.toLowerCase().replace(/^(00)+(?=.)/, "");
}

export const REVOCATIONS_FILE = "revocations.json";

/**
 * The revocation state both the OCSP responder and the CRLs answer from; persisted next to the
 * PKI when the simulator has a data folder, so a revoked credential stays revoked after a restart.
 */
export class RevocationRegistry {
  private readonly entries = new Map<string, Revocation>();
  /** Bumped on every change, so cached CRLs know when to be reissued. */
  version = 0;

  private constructor(private readonly dir: string | undefined) {}

  static async open(dir: string | undefined): Promise<RevocationRegistry> {
    const registry = new RevocationRegistry(dir);
    if (!dir) return registry;
    try {
      const stored = JSON.parse(await readFile(join(dir, REVOCATIONS_FILE), "utf8")) as Revocation[];
      for (const entry of stored) registry.entries.set(registry.key(entry.issuer, entry.serialNumber), entry);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new EsignError("E_CONFIG", `Cannot read ${join(dir, REVOCATIONS_FILE)}`, { cause: error });
      }
    }
    return registry;
  }

  private key(issuer: string, serialNumber: string): string {
    return `${issuer}\n${normaliseSerial(serialNumber)}`;
  }

  /** Revokes a certificate; revoking it again keeps the first revocation time and reason. */
  async revoke(issuer: string, serialNumber: string, reason: RevocationReason): Promise<Revocation> {
    const key = this.key(issuer, serialNumber);
    const existing = this.entries.get(key);
    if (existing) return existing;
    const revocation: Revocation = {
      issuer,
      serialNumber: normaliseSerial(serialNumber),
      // Whole seconds: OCSP and CRL times are encoded without fractions.
      revokedAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
      reason,
    };
    this.entries.set(key, revocation);
    this.version++;
    await this.save();
    return revocation;
  }

  find(issuer: string, serialNumber: string): Revocation | undefined {
    return this.entries.get(this.key(issuer, serialNumber));
  }

  byIssuer(issuer: string): Revocation[] {
    return [...this.entries.values()].filter((entry) => entry.issuer === issuer);
  }

  private async save(): Promise<void> {
    if (!this.dir) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temporary = join(this.dir, `${REVOCATIONS_FILE}.${process.pid}.tmp`);
    await writeFile(temporary, JSON.stringify([...this.entries.values()], null, 2));
    await rename(temporary, join(this.dir, REVOCATIONS_FILE));
  }
}
