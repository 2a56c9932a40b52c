import { runService } from "@esign/runtime";
import { loadWorkerConfig } from "./config";
import { createSigningWorker } from "./worker";

/**
 * Standalone worker. SIGTERM/SIGINT drain: no new jobs are taken, running ones finish (BullMQ
 * `close()` waits for them), then the process exits. Kubernetes' grace period bounds the wait;
 * a job cut off by SIGKILL is recovered by another worker through BullMQ's stalled-job check.
 */
await runService("esign-worker", () => createSigningWorker(loadWorkerConfig()));
