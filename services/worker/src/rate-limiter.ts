import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

/**
 * A call holds its slot from the moment it is admitted until `window` ms after it ended. The
 * sorted set scores each call with the time its slot frees: while in flight, admission time +
 * `lease` (a crashed worker's call cannot hold a slot for ever); once ended, end time + window.
 * Time is Redis's own (TIME), one clock for every worker.
 */
const ACQUIRE = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local lease = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pausedUntil = tonumber(redis.call('GET', KEYS[2]) or 0)
if pausedUntil > now then return pausedUntil - now end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now + lease, ARGV[3])
  redis.call('PEXPIRE', key, lease + window)
  return 0
end
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)
`;

const RELEASE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
`;

/** Extends the pause to now + ARGV[1] ms (never shortens one already longer). */
const PAUSE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local resumeAt = now + tonumber(ARGV[1])
if resumeAt > tonumber(redis.call('GET', KEYS[1]) or 0) then
  redis.call('SET', KEYS[1], resumeAt, 'PX', ARGV[1])
end
`;

/** How long an unreleased call (its worker died) holds its slot: longer than any sign call runs. */
const LEASE_MS = 120_000;
const WINDOW_MS = 1000;
/** Longest sleep between tries while slots are held by calls still in flight. */
const MAX_POLL_MS = 50;

export interface RateLimiterOptions {
  /** Redis key prefix shared by every worker (keep it inside the queue's `{hash tag}`). */
  key: string;
  /** Calls per second across every process sharing `key`; undefined: only pauses apply. */
  perSecond: number | undefined;
}

/** Stands in for "no limit": admission then only honours pauses. */
const UNLIMITED = 1_000_000_000;

export interface RateLimitSlot {
  /** Milliseconds waited for the slot. */
  waitedMs: number;
  /** The call has ended (however): its slot frees one window from now. */
  release(): Promise<void>;
}

/**
 * One limit for every worker, around the sign call itself, and the one switch that pauses every
 * worker's sign calls after a 429. The service counts a call in the
 * second it accepts it, somewhere between our sending and its answer, and network or CPU delays
 * can move that by any amount. So a call counts from its start to its end: admitting a call only
 * while fewer than `perSecond` calls started, or ended less than a second ago, keeps every
 * one-second interval at the service at `perSecond` calls or fewer, whatever the delays.
 */
export class SigningRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly options: RateLimiterOptions,
  ) {}

  async acquire(): Promise<RateLimitSlot> {
    const started = Date.now();
    const member = randomUUID();
    for (;;) {
      const waitMs = Number(
        await this.redis.eval(
          ACQUIRE,
          2,
          `${this.options.key}:calls`,
          `${this.options.key}:paused-until`,
          this.options.perSecond ?? UNLIMITED,
          WINDOW_MS,
          member,
          LEASE_MS,
        ),
      );
      if (waitMs === 0) {
        return {
          waitedMs: Date.now() - started,
          release: async () => {
            await this.redis.eval(RELEASE, 1, `${this.options.key}:calls`, member, WINDOW_MS);
          },
        };
      }
      // Jitter, so waiting workers do not all come back in the same millisecond.
      await sleep(Math.min(waitMs, MAX_POLL_MS) + Math.floor(Math.random() * 10));
    }
  }

  /**
   * The service answered 429: no worker calls it again for `ms`. This is the queue-wide pause,
   * placed at the sign call rather than at BullMQ's job fetch, so jobs meanwhile still fetch and
   * prepare, and the waiting job keeps its attempt.
   */
  async pause(ms: number): Promise<void> {
    await this.redis.eval(PAUSE, 1, `${this.options.key}:paused-until`, Math.max(1, Math.round(ms)));
  }
}
