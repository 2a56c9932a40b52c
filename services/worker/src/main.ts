import { isEsignError } from "@esign/errors";
import { loadWorkerConfig } from "./config";
import { createSigningWorker, createWorkerLogger } from "./worker";

/**
 * Standalone worker. SIGTERM/SIGINT drain: no new jobs are taken, running ones finish (BullMQ
 * `close()` waits for them), then the process exits. Kubernetes' grace period bounds the wait;
 * a job cut off by SIGKILL is recovered by another worker through BullMQ's stalled-job check.
 */
let config: ReturnType<typeof loadWorkerConfig>;
try {
  config = loadWorkerConfig(process.env);
} catch (error) {
  process.stderr.write(`esign-worker: ${isEsignError(error) ? error.message : String(error)}\n`);
  process.exit(1);
}
const logger = createWorkerLogger(config.logLevel);
const worker = await createSigningWorker(config, { logger }).catch((error: unknown) => {
  logger.fatal({ err: error }, "cannot start the signing worker");
  process.exit(1);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "draining: finishing running jobs before exit");
  try {
    await worker.close();
    logger.info("drained");
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, "error while draining");
    process.exit(1);
  }
}
process.on("SIGTERM", (signal) => void shutdown(signal));
process.on("SIGINT", (signal) => void shutdown(signal));
