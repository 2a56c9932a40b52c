/** Clocks of responders, CAs and ours drift; a few minutes either way is not a finding. */
export const DEFAULT_REVOCATION_GRACE_MS = 5 * 60 * 1000;

/** The time an OCSP response or CRL is judged against. */
export interface FreshnessRule {
  /** When the certificate must be good: now when signing, the signature's time when validating. */
  at: Date;
  /** The judge's clock: an answer issued after it comes from a wrong clock or a forger. */
  now: Date;
  graceMs: number;
}

/**
 * The one freshness rule for OCSP responses and CRLs: the answer covers `at` (its nextUpdate,
 * when it has one, is not before `at`) and was not issued after `now`, both give or take the
 * grace. When signing, `at` and `now` are the same moment; when validating, data gathered after
 * the signature was made (the B-LT revision) covers it, however long ago that was.
 */
export function freshnessProblem(
  thisUpdate: Date,
  nextUpdate: Date | undefined,
  rule: FreshnessRule,
): string | undefined {
  if (thisUpdate.getTime() > rule.now.getTime() + rule.graceMs) {
    return `issued in the future (thisUpdate ${thisUpdate.toISOString()}, now ${rule.now.toISOString()})`;
  }
  if (nextUpdate && nextUpdate.getTime() + rule.graceMs < rule.at.getTime()) {
    return `outdated (nextUpdate ${nextUpdate.toISOString()} is before ${rule.at.toISOString()})`;
  }
  return undefined;
}
