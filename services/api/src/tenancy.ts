import { EsignError } from "@esign/errors";
import type { SigningClient, SignJob } from "@esign/jobs";
import type { Caller } from "./auth";

/** BullMQ job ids (= idempotency keys) are at most 128 characters; ours carry the tenant too. */
const MAX_JOB_ID = 128;

/**
 * The signer profile a request may use: the tenant's default, or one it was granted. Profiles are
 * keys; naming another tenant's profile must not let a request sign with it.
 */
export function signerFor(caller: Caller, requested: string | undefined): string {
  const signer = requested ?? caller.tenant.signer;
  const granted = caller.tenant.signers ?? [caller.tenant.signer];
  if (!granted.includes(signer)) {
    throw new EsignError(
      "E_FORBIDDEN",
      `signer profile ${JSON.stringify(signer)} is not granted to this tenant`,
    );
  }
  return signer;
}

/**
 * Idempotency keys are scoped to the tenant: the key becomes the job id, and a key another tenant
 * happens to use (or guesses) must never hand back that tenant's job or block this one. Tenant
 * names have no `.` (TenantNameSchema), so the first `.` ends the tenant: no two tenants collide.
 */
export function tenantIdempotencyKey(caller: Caller, key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  const scoped = `${caller.tenantId}.${key}`;
  if (scoped.length > MAX_JOB_ID) {
    throw new EsignError(
      "E_INVALID_JOB",
      `idempotencyKey may be at most ${MAX_JOB_ID - caller.tenantId.length - 1} characters for this tenant`,
    );
  }
  return scoped;
}

/**
 * After a submit that may have collapsed into an existing job (same idempotency key): the job must
 * be this tenant's, or the request is refused rather than answered with someone else's document.
 */
export async function assertOwnSubmission(client: SigningClient, caller: Caller, id: string): Promise<void> {
  assertOwnJob(caller, (await client.get(id)).job);
}

export function assertOwnJob(caller: Caller, job: SignJob): void {
  if (job.tenant !== caller.tenantId) {
    throw new EsignError("E_FORBIDDEN", "this idempotency key is already in use; choose another");
  }
}
