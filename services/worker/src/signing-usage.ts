import type { SigningUsageKind, SigningUsageLedger } from "@esign/jobs";
import type { WorkerMetrics } from "./metrics";
import type { SignerEntry } from "./signer-profiles";

/**
 * Paid signing of remote profiles, counted twice: in Redis for every worker together (what
 * GET /v1/usage reconciles) and in this process's /metrics. Local keys cost nothing and are not counted.
 */
export class SigningUsageCounter {
  constructor(
    private readonly ledger: SigningUsageLedger,
    private readonly metrics: WorkerMetrics,
  ) {}

  async count(entry: SignerEntry, kind: SigningUsageKind): Promise<void> {
    if (!entry.remote) return;
    this.metrics.signingUsage.inc({ profile: entry.profile, kind });
    await this.ledger.record(entry.profile, kind);
  }
}
