import type { Redis } from "ioredis";
import { Gauge, type Registry } from "prom-client";

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

/** The part of a pino (or Fastify) logger the persistence watch writes to. */
export interface PersistenceLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * Checks, now if `redis` is connected and at every (re)connection, whether the Redis in use would
 * keep queued jobs over a restart; warns when it would not and sets `esign_redis_persistence_enabled`
 * in `registry`. Every service runs it: a deployment without the API (producers writing BullMQ
 * jobs directly) must still be told. Returns the function that stops watching.
 */
export function watchRedisPersistence(redis: Redis, registry: Registry, log: PersistenceLog): () => void {
  const gauge = new Gauge({
    name: "esign_redis_persistence_enabled",
    help: "1 when the Redis in use has AOF or RDB persistence, 0 when it has neither, -1 when it cannot be told",
    registers: [registry],
  });
  gauge.set(-1);
  const check = () =>
    redisPersistence(redis).then(
      (persistence) => {
        gauge.set(persistenceGaugeValue(persistence));
        if (persistence.persistent === false) log.warn({ redis: persistence.detail }, NO_PERSISTENCE_WARNING);
        else if (persistence.persistent === undefined)
          log.warn({ redis: persistence.detail }, "cannot tell whether Redis persists queued jobs");
        else log.info({ redis: persistence.detail }, "Redis persistence");
      },
      (error: Error) => log.warn({ err: error }, "cannot check Redis persistence"),
    );
  redis.on("ready", check);
  if (redis.status === "ready") void check();
  return () => void redis.off("ready", check);
}
