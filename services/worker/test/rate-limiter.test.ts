import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { SigningRateLimiter } from "../src/rate-limiter";
import { REDIS_URL } from "./harness";

const redis = new Redis(REDIS_URL);
const prefix = `{esign-limiter-test-${randomUUID().slice(0, 8)}}`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe("SigningRateLimiter (Redis)", () => {
  it("never lets more than the limit of calls touch any one-second interval, across limiter instances", async () => {
    const limit = 5;
    const key = `${prefix}:window`;
    // Two instances on two connections stand in for two worker processes.
    const other = new Redis(REDIS_URL);
    const limiters = [
      new SigningRateLimiter(redis, { key, perSecond: limit }),
      new SigningRateLimiter(other, { key, perSecond: limit }),
    ];
    const calls: { start: number; end: number }[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, index) => {
        for (let round = 0; round < 2; round++) {
          const slot = await limiters[index % 2]!.acquire();
          const start = Date.now();
          await sleep(Math.floor(Math.random() * 80));
          calls.push({ start, end: Date.now() });
          await slot.release();
        }
      }),
    );
    await other.quit();
    expect(calls).toHaveLength(24);
    // Wherever a one-second interval starts, it meets at most `limit` calls.
    for (const { start: from } of calls) {
      const touching = calls.filter((call) => call.end >= from && call.start < from + 1000);
      expect(touching.length).toBeLessThanOrEqual(limit);
    }
  });

  it("holds every call after pause() until the pause is over, even without a configured limit", async () => {
    const limiter = new SigningRateLimiter(redis, { key: `${prefix}:pause`, perSecond: undefined });
    const pausedAt = Date.now();
    await limiter.pause(400);
    // A shorter pause never shortens the one in force.
    await limiter.pause(10);
    const slot = await limiter.acquire();
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(400);
    expect(slot.waitedMs).toBeGreaterThan(0);
    await slot.release();
  });
});
