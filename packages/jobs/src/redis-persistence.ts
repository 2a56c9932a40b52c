import type { Redis } from "ioredis";

export interface RedisPersistence {
  /** true: AOF or RDB save points are on; false: neither (a restart loses every job); undefined: cannot tell. */
  persistent: boolean | undefined;
  /** What was found, for the log line. */
  detail: string;
}

/**
 * Whether the Redis in use keeps its data over a restart. Without AOF or RDB snapshots a Redis
 * restart drops every queued job with no failure event. AOF comes from `INFO persistence`, which
 * managed services allow; RDB save points need `CONFIG GET save`, which some disable or rename:
 * then, with AOF off, the answer is "cannot tell".
 */
export async function redisPersistence(redis: Redis): Promise<RedisPersistence> {
  const info = await redis.info("persistence");
  const aof = /^aof_enabled:1\s*$/m.test(info);
  if (aof) return { persistent: true, detail: "append-only file (AOF) on" };
  let savePoints: string;
  try {
    const reply = (await redis.config("GET", "save")) as string[];
    savePoints = reply[1] ?? "";
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { persistent: undefined, detail: `AOF off; RDB save points unknown (CONFIG GET save: ${reason})` };
  }
  return savePoints.trim() === ""
    ? { persistent: false, detail: 'AOF off and no RDB save points (save "")' }
    : { persistent: true, detail: `RDB snapshots (save ${savePoints})` };
}

/** The value of the `esign_redis_persistence_enabled` gauge: 1 persistent, 0 not, -1 unknown. */
export function persistenceGaugeValue(persistence: RedisPersistence): number {
  return persistence.persistent === undefined ? -1 : persistence.persistent ? 1 : 0;
}

export const NO_PERSISTENCE_WARNING =
  "Redis keeps no data over a restart (neither AOF nor RDB): a Redis restart loses every queued job without a failure event. Turn on appendonly yes (see docs/operations.md).";
