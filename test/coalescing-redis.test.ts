/**
 * CoalescingRedis against the real Redis: the commands one event-loop turn issues (plain ones, a
 * MULTI block, a script) leave in one socket write and are answered in order, each with its own
 * reply or error; commands of later turns are not held back; a duplicate (BullMQ's blocking
 * connection) is a plain connection.
 */
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { CoalescingRedis } from "@esign/jobs";
import { afterAll, expect, it } from "vitest";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `{coalescing-test-${randomUUID().slice(0, 8)}}`;
const redis = new CoalescingRedis(REDIS_URL);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** Counts the writes that reach the socket (one per `_write`/`_writev`, each one system call). */
function countWrites(socket: Socket): { writes: number } {
  const counted = { writes: 0 };
  const target = socket as unknown as Record<"_write" | "_writev", (...args: unknown[]) => void>;
  for (const method of ["_write", "_writev"] as const) {
    const original = target[method].bind(socket);
    target[method] = (...args: unknown[]) => {
      counted.writes++;
      original(...args);
    };
  }
  return counted;
}

it("sends one turn's commands in one write, answered in order", async () => {
  await redis.ping();
  const counted = countWrites(redis.stream as Socket);
  const key = (name: string) => `${prefix}:${name}`;
  const results = await Promise.all([
    redis.set(key("a"), "1"),
    redis.incr(key("a")),
    redis.multi().hset(key("h"), "field", "value").expire(key("h"), 60).exec(),
    redis.eval(`return redis.call("GET", KEYS[1])`, 1, key("a")),
    redis.hget(key("a"), "field").catch((error: Error) => error.message),
    redis.get(key("a")),
  ]);
  expect(results).toEqual([
    "OK",
    2,
    [
      [null, 1],
      [null, 1],
    ],
    "2",
    expect.stringContaining("WRONGTYPE"),
    "2",
  ]);
  expect(counted.writes).toBe(1);

  // A later turn's command goes out in its own write, not held back.
  expect(await redis.get(key("a"))).toBe("2");
  expect(counted.writes).toBe(2);
});

it("duplicates as a plain connection (BullMQ's blocking reads)", async () => {
  const blocking = redis.duplicate();
  try {
    expect(blocking).not.toBeInstanceOf(CoalescingRedis);
    expect(await blocking.ping()).toBe("PONG");
  } finally {
    await blocking.quit();
  }
});
