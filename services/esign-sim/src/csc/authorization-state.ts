import { randomInt } from "node:crypto";
import { invalidParameter, invalidRequest } from "../http/service-error";
import { constantTimeEqual, newSecret } from "../secrets";

interface Expiring {
  expiresAt: number;
}

/** A map whose entries vanish after their lifetime; expired entries are dropped as they are met. */
class ExpiringMap<V extends Expiring> {
  private readonly entries = new Map<string, V>();

  set(key: string, value: V): void {
    this.prune();
    this.entries.set(key, value);
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value && value.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private prune(): void {
    const now = Date.now();
    for (const [key, value] of this.entries) if (value.expiresAt <= now) this.entries.delete(key);
  }
}

/** OAuth 2.0 access tokens from the client-credentials grant. */
export class AccessTokens {
  private readonly tokens = new ExpiringMap<{ clientId: string; expiresAt: number }>();

  constructor(private readonly lifetimeSeconds: number) {}

  issue(clientId: string): { accessToken: string; expiresIn: number } {
    const accessToken = newSecret();
    this.tokens.set(accessToken, { clientId, expiresAt: Date.now() + this.lifetimeSeconds * 1000 });
    return { accessToken, expiresIn: this.lifetimeSeconds };
  }

  clientOf(accessToken: string): string | undefined {
    return this.tokens.get(accessToken)?.clientId;
  }
}

/**
 * One-time passwords "sent" by credentials/sendOTP. There is no SMS here: the current OTP is
 * readable through the admin API, as a test phone would be.
 */
export class OneTimePasswords {
  private readonly current = new ExpiringMap<{ otp: string; expiresAt: number }>();

  constructor(private readonly lifetimeSeconds: number) {}

  send(credentialId: string): void {
    const otp = String(randomInt(1_000_000)).padStart(6, "0");
    this.current.set(credentialId, { otp, expiresAt: Date.now() + this.lifetimeSeconds * 1000 });
  }

  peek(credentialId: string): { otp: string; expiresAt: number } | undefined {
    return this.current.get(credentialId);
  }

  /** Checks an OTP; a correct one is used up. */
  consume(credentialId: string, otp: string): boolean {
    const entry = this.current.get(credentialId);
    if (!entry || !constantTimeEqual(otp, entry.otp)) return false;
    this.current.delete(credentialId);
    return true;
  }
}

interface SadGrant {
  clientId: string;
  credentialId: string;
  /** Signatures still allowed. */
  remaining: number;
  /** Base64 hashes the SAD was issued for; undefined when it was issued without hashes (SCAL 1). */
  hashes: Set<string> | undefined;
  expiresAt: number;
}

/**
 * Signature Activation Data: a credentials/authorize grant for `numSignatures` signatures with one
 * credential, bound to the hashes it was issued for when those were given.
 */
export class SignatureActivations {
  private readonly grants = new ExpiringMap<SadGrant>();

  constructor(private readonly lifetimeSeconds: number) {}

  issue(grant: Omit<SadGrant, "expiresAt">): { SAD: string; expiresIn: number } {
    const sad = newSecret();
    this.grants.set(sad, { ...grant, expiresAt: Date.now() + this.lifetimeSeconds * 1000 });
    return { SAD: sad, expiresIn: this.lifetimeSeconds };
  }

  /**
   * Checks that `sad` allows signing `hashes` with the credential and uses up that many signatures.
   * A refused call leaves the SAD intact.
   */
  use(sad: string, request: { clientId: string; credentialId: string; hashes: string[] }): void {
    const grant = this.grants.get(sad);
    if (!grant || grant.clientId !== request.clientId || grant.credentialId !== request.credentialId) {
      throw invalidParameter("SAD");
    }
    if (request.hashes.length > grant.remaining) {
      throw invalidRequest(
        `The SAD allows ${grant.remaining} more signatures, ${request.hashes.length} were asked`,
      );
    }
    if (grant.hashes && request.hashes.some((hash) => !grant.hashes!.has(hash))) {
      throw invalidRequest("The SAD was not issued for these hashes");
    }
    grant.remaining -= request.hashes.length;
    if (grant.remaining === 0) this.grants.delete(sad);
  }
}
