import { isEsignError } from "@esign/errors";

/** A started service, as its process entry holds it. */
export interface RunningService {
  /** Stops taking work, lets running work finish, releases connections. */
  close(): Promise<void>;
}

/**
 * The process entry of a service (`services/<name>/src/main.ts`): starts it, and on SIGTERM or
 * SIGINT closes it and exits 0 (1 if closing fails). A failed start (a bad variable, an unreachable
 * Redis) prints `<name>: E_CODE: message` on stderr and exits 1, before any logger may exist.
 */
export async function runService(name: string, start: () => Promise<RunningService>): Promise<void> {
  const close = (running: RunningService) =>
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${name}: error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  let service: RunningService | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // During start-up there is nothing to close yet: it is closed as soon as `start` returns.
    if (service) void close(service);
  };
  // Installed before starting: a service announces itself from inside `start`, a supervisor may
  // answer with SIGTERM at once, and SIGTERM's default action would kill it mid-start.
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  try {
    service = await start();
  } catch (error) {
    const reason = isEsignError(error) ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`${name}: ${reason}\n`);
    process.exit(1);
  }
  if (stopping) await close(service);
}
