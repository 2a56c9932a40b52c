import type { Redis } from "ioredis";
import { z } from "zod";
import { QUEUE_PREFIX, signingUsageKey } from "./constants";

/**
 * What the workers count per signer profile of a remote (paid) signing service, in signatures:
 * - `calls`: signatures asked for, counted before the call leaves (so a worker killed mid-call
 *   still counted it);
 * - `answered`: signatures the service answered with, replays included;
 * - `replayed`: of those, answers the service replayed for an idempotency key (not billed again);
 * - `delivered`: signatures in outputs of completed jobs.
 */
export const SIGNING_USAGE_KINDS = ["calls", "answered", "replayed", "delivered"] as const;
export type SigningUsageKind = (typeof SIGNING_USAGE_KINDS)[number];

export const SigningUsageSchema = z.object({
  calls: z.int().min(0),
  answered: z.int().min(0),
  replayed: z.int().min(0),
  delivered: z.int().min(0),
  /** What the service billed at least: every answer that was not a replay. */
  billedAtLeast: z.int().min(0),
  /** At most: every call that was not answered with a replay (calls in doubt included). */
  billedAtMost: z.int().min(0),
  /** Signatures possibly paid for that no output carries: billedAtMost - delivered. */
  undeliveredAtMost: z.int().min(0),
});
export type SigningUsage = z.infer<typeof SigningUsageSchema>;

export const SigningUsageReportSchema = z.object({
  profiles: z.record(z.string(), SigningUsageSchema),
});
export type SigningUsageReport = z.infer<typeof SigningUsageReportSchema>;

/** The counters of one profile, with the bounds on what the service billed derived from them. */
export function reconcileSigningUsage(counts: Record<SigningUsageKind, number>): SigningUsage {
  const billedAtMost = Math.max(0, counts.calls - counts.replayed);
  return {
    ...counts,
    billedAtLeast: Math.max(0, counts.answered - counts.replayed),
    billedAtMost,
    undeliveredAtMost: Math.max(0, billedAtMost - counts.delivered),
  };
}

/**
 * The per-profile signing counters in Redis, shared by every worker (which count) and the API
 * (which reports them at GET /v1/usage). Cumulative, like Prometheus counters, for the life of the
 * deployment's Redis.
 */
export class SigningUsageLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string = QUEUE_PREFIX,
  ) {}

  async record(profile: string, kind: SigningUsageKind, count = 1): Promise<void> {
    await this.redis.hincrby(signingUsageKey(this.prefix), `${profile}:${kind}`, count);
  }

  async report(): Promise<SigningUsageReport> {
    const fields = await this.redis.hgetall(signingUsageKey(this.prefix));
    const counts = new Map<string, Record<SigningUsageKind, number>>();
    for (const [field, value] of Object.entries(fields)) {
      const separator = field.lastIndexOf(":");
      const profile = field.slice(0, separator);
      const kind = field.slice(separator + 1) as SigningUsageKind;
      if (!SIGNING_USAGE_KINDS.includes(kind)) continue;
      let profileCounts = counts.get(profile);
      if (!profileCounts) {
        profileCounts = { calls: 0, answered: 0, replayed: 0, delivered: 0 };
        counts.set(profile, profileCounts);
      }
      profileCounts[kind] = Number(value);
    }
    return {
      profiles: Object.fromEntries(
        [...counts].map(([profile, profileCounts]) => [profile, reconcileSigningUsage(profileCounts)]),
      ),
    };
  }
}
