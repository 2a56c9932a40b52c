import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

/**
 * Sliding-window log in one Lua call: admits a call if fewer than `limit` were admitted within the
 * last `window` ms, else answers how long until the oldest leaves the window. Time is Redis's own
 * (TIME), so every worker measures the window on one clock, whatever their hosts' clocks say.
 */
const ACQUIRE = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

export interface RateLimiterOptions {
  key: string;
  /** Calls admitted per second across every process sharing `key`. */
  perSecond: number;
  /** Widens the one-second window: see WorkerConfig.signingRateMarginMs. */
  marginMs: number;
}

/**
 * One limit for every worker, around the sign call itself. A window of 1 s + margin admitting
 * `perSecond` calls means no wall-clock second at the service can see more than `perSecond`.
 */
export class SigningRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly options: RateLimiterOptions,
  ) {}

  /** Waits for a slot; resolves with the milliseconds waited. */
  async acquire(): Promise<number> {
    const started = Date.now();
    const window = 1000 + this.options.marginMs;
    for (;;) {
      const waitMs = Number(
        await this.redis.eval(ACQUIRE, 1, this.options.key, this.options.perSecond, window, randomUUID()),
      );
      if (waitMs === 0) return Date.now() - started;
      // A little jitter so waiting workers do not all come back in the same millisecond.
      await sleep(waitMs + Math.floor(Math.random() * 10));
    }
  }
}
