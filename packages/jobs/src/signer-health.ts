import type { Redis } from "ioredis";
import { z } from "zod";
import { QUEUE_PREFIX } from "./constants";

/**
 * Hash: the last probe of each signer profile (field: profile name), written by the workers,
 * read by the API's /readyz: the workers hold the signing credentials, the API does not.
 */
export function signerHealthKey(prefix: string = QUEUE_PREFIX): string {
  return `${prefix}:worker:signer-health`;
}

export const SignerHealthSchema = z.object({
  ok: z.boolean(),
  /** Why the probe failed: the error code and message a signing call would meet. */
  reason: z.string().optional(),
  /** When the probe answered (ms since the epoch). */
  checkedAt: z.number(),
  /** Until when the answer stands for the profile's state; after that no worker is probing. */
  freshUntil: z.number(),
});
export type SignerHealth = z.infer<typeof SignerHealthSchema>;

export async function writeSignerHealth(
  redis: Redis,
  prefix: string,
  profile: string,
  health: SignerHealth,
): Promise<void> {
  await redis.hset(signerHealthKey(prefix), profile, JSON.stringify(health));
}

/** The profiles' last probes that are still fresh at `now`; stale or unreadable entries are left out. */
export async function readSignerHealth(
  redis: Redis,
  prefix: string,
  now: number = Date.now(),
): Promise<Map<string, SignerHealth>> {
  const entries = await redis.hgetall(signerHealthKey(prefix));
  const fresh = new Map<string, SignerHealth>();
  for (const [profile, raw] of Object.entries(entries)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    const health = SignerHealthSchema.safeParse(parsed);
    if (health.success && health.data.freshUntil >= now) fresh.set(profile, health.data);
  }
  return fresh;
}
