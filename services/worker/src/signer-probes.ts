import { setTimeout as sleep } from "node:timers/promises";
import { writeSignerHealth } from "@esign/jobs";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { asEsignError } from "./failures";
import type { SignerEntry } from "./signer-profiles";

export interface SignerProbesOptions {
  entries: SignerEntry[];
  redis: Redis;
  prefix: string;
  /** Time between two probes of a profile. */
  intervalMs: number;
  /** A probe not answered by then counts as failed (a hung service fails signing calls too). */
  timeoutMs: number;
  logger: Logger;
}

/**
 * Probes every profile whose signer has a cheap call on its signing path (CSC credentials/info)
 * every `intervalMs`, and records the outcome in Redis for the API's /readyz. One probe per
 * interval whatever the /readyz rate, and none billed.
 */
export function startSignerProbes(options: SignerProbesOptions): { close(): Promise<void> } {
  const probed = options.entries.filter((entry) => entry.signer.probe);
  const stop = new AbortController();
  // Logged when a profile's state changes, not at every probe.
  const lastOutcome = new Map<string, string | undefined>();
  const probeOnce = async (entry: SignerEntry) => {
    const checkedAt = Date.now();
    const outcome = await Promise.race([
      entry.signer.probe!().then(() => undefined),
      sleep(options.timeoutMs, undefined, { ref: false }).then(
        () => `no answer within ${options.timeoutMs} ms`,
      ),
    ]).catch((error: unknown) => {
      const failure = asEsignError(error);
      return `${failure.code}: ${failure.message}`;
    });
    if (!lastOutcome.has(entry.profile) || lastOutcome.get(entry.profile) !== outcome) {
      if (outcome) options.logger.warn({ profile: entry.profile, reason: outcome }, "signer probe failed");
      else options.logger.info({ profile: entry.profile }, "signer probe answers");
      lastOutcome.set(entry.profile, outcome);
    }
    await writeSignerHealth(options.redis, options.prefix, entry.profile, {
      ok: outcome === undefined,
      ...(outcome && { reason: outcome }),
      checkedAt,
      // Three missed probes (or no worker left) and the answer no longer counts.
      freshUntil: checkedAt + 3 * options.intervalMs + options.timeoutMs,
    });
  };
  const loop = (async () => {
    while (!stop.signal.aborted && probed.length > 0) {
      await Promise.all(
        probed.map((entry) =>
          probeOnce(entry).catch((error: unknown) =>
            options.logger.warn({ err: error, profile: entry.profile }, "cannot record a signer probe"),
          ),
        ),
      );
      await sleep(options.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  })();
  return {
    async close() {
      stop.abort();
      await loop;
    },
  };
}
