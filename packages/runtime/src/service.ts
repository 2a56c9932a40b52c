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
  let service: RunningService;
  try {
    service = await start();
  } catch (error) {
    const reason = isEsignError(error) ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`${name}: ${reason}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${name}: error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
