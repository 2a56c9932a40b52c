import { EsignError } from "@esign/errors";
import { z } from "zod";
import { assertValidKey } from "./keys";
import { formatRef, type ObjectRef, StoreNameSchema } from "./ref";

/**
 * Which stores, and which key prefixes inside them, one tenant may read from and write to.
 * End prefixes with "/": "acme" would also admit "acme-rival/...".
 */
export const TenantStoragePolicySchema = z.strictObject({
  stores: z.record(StoreNameSchema, z.array(z.string())),
});

export interface TenantStoragePolicy {
  stores: Record<string, readonly string[]>;
}

/**
 * Throws E_FORBIDDEN unless `ref` lies under one of the tenant's prefixes. The key is validated
 * first, so "allowed/../other" cannot pass a textual prefix check. An empty prefix allows the
 * whole store.
 */
export function assertAllowed(ref: ObjectRef, policy: TenantStoragePolicy): void {
  assertValidKey(ref.key);
  if (!allowedPrefixes(ref, policy).some((prefix) => ref.key.startsWith(prefix))) {
    throw new EsignError(
      "E_FORBIDDEN",
      `${formatRef(ref)} is outside the tenant's allowed stores and prefixes`,
    );
  }
}

/** The tenant's prefixes in `ref`'s store (none when the store is not its). */
export function allowedPrefixes(ref: ObjectRef, policy: TenantStoragePolicy): readonly string[] {
  return (Object.hasOwn(policy.stores, ref.store) ? policy.stores[ref.store] : undefined) ?? [];
}
