import { EsignError } from "@esign/errors";
import type { SigningClient, SignJob } from "@esign/jobs";
import { allowedPrefixes } from "@esign/storage";
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
 * The key prefix in the tenant's `uploadStore` where the gateway puts what it stores for the tenant
 * (uploads, inline batches' manifests): its `uploadPrefix`, else `fallback` when the tenant may
 * write there, else `uploads/` inside the first of its areas in that store, so that the default
 * stays inside a prefix-limited tenant's area rather than being refused.
 */
export function uploadArea(caller: Caller, fallback: string): string {
  const { uploadPrefix, uploadStore } = caller.tenant;
  if (uploadPrefix !== undefined) return uploadPrefix;
  const prefixes = allowedPrefixes({ store: uploadStore, key: fallback }, caller.tenant);
  if (prefixes.some((prefix) => fallback.startsWith(prefix))) return fallback;
  const area = prefixes.find((prefix) => prefix.endsWith("/"));
  return area === undefined ? fallback : `${area}uploads/`;
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
