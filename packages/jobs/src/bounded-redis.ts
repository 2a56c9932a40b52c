import { Redis, type RedisOptions } from "ioredis";

/** ioredis's own messages for a command that never reached Redis or got no answer in time. */
const UNREACHABLE_MESSAGES = [
  "Command timed out",
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Connection is closed.",
];

/**
 * True for the errors of a Redis that cannot be reached or does not answer (as opposed to a Redis
 * that answered with an error): what a request path turns into E_UNAVAILABLE.
 */
export function isRedisUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "MaxRetriesPerRequestError") return true;
  if (UNREACHABLE_MESSAGES.includes(error.message)) return true;
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ECONNREFUSED" || code === "ECONNRESET" || code === "ETIMEDOUT" || code === "EPIPE";
}

export interface BoundedRedisOptions {
  /** How long a command may wait for its answer before it fails. */
  commandTimeoutMs: number;
  /** Extra ioredis options (TLS, a name); the bounds above win. */
  redis?: RedisOptions;
}

/**
 * A Redis connection for request paths (the API, producers), where a caller is waiting:
 * - no offline queue: while the connection is down a command fails at once instead of waiting to
 *   run, possibly long after its caller gave up, when Redis returns;
 * - a command timeout, for a Redis that holds the connection open but does not answer (stopped,
 *   stuck in a long script, an unreachable host behind a live route);
 * - on a timeout the connection is dropped, so that until it has reconnected every command fails at
 *   once: a request meets at most one timeout.
 * A command already sent still runs when a stopped Redis wakes up (it sits in Redis's socket
 * buffer; even a TCP reset does not discard it): writes that must not happen late carry a deadline
 * in Redis's clock (`deadline()`), which SigningClient.submit checks in the same transaction.
 * Workers keep plain connections: BullMQ's blocking reads need the opposite (wait and retry forever).
 */
export class BoundedRedis extends Redis {
  private readonly commandTimeoutMs: number;
  /** Redis's clock minus ours, measured at each connection (to half a round trip). */
  private clockOffsetMs = 0;

  constructor(url: string, options: BoundedRedisOptions) {
    super(url, {
      ...options.redis,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
      // Reconnect soon: an API without Redis answers 503 until then.
      retryStrategy: (times) => Math.min(times * 100, 1000),
    });
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.on("ready", () => {
      const sent = Date.now();
      this.time().then(
        ([seconds, micros]) => {
          const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
          this.clockOffsetMs = redisNow - (sent + Date.now()) / 2;
        },
        () => undefined,
      );
    });
  }

  /**
   * The Redis time (ms) by which a command sent now must run to be answered while its caller still
   * waits: half the command timeout from now, so that an error in the measured clock offset of up
   * to half the timeout still leaves a late command refused rather than a refused one run.
   */
  deadline(): number {
    return Date.now() + this.clockOffsetMs + this.commandTimeoutMs / 2;
  }

  /**
   * Resolves true once connected, or false after `timeoutMs` when Redis is not there yet: commands
   * sent before fail at once (no offline queue), so a service waits for this before it serves, and
   * serves 503 from then on until Redis answers.
   */
  connected(timeoutMs: number): Promise<boolean> {
    if (this.status === "ready") return Promise.resolve(true);
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.off("ready", onReady);
        done(false);
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        done(true);
      };
      this.once("ready", onReady);
    });
  }

  override sendCommand(...[command, stream]: Parameters<Redis["sendCommand"]>): unknown {
    const sent = this.stream;
    command.promise.catch((error: unknown) => {
      if (error instanceof Error && error.message === "Command timed out" && this.stream === sent) {
        sent?.destroy();
      }
    });
    return super.sendCommand(command, stream);
  }
}
