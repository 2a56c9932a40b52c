export type { CheckpointStore, SignatureCheckpoint } from "./checkpoints";
export { loadWorkerConfig, type SignerProfile, SignerProfilesSchema, type WorkerConfig } from "./config";
export { STAGES, type Stage, type WorkerMetrics } from "./metrics";
export {
  createSigningWorker,
  createWorkerLogger,
  type SigningWorker,
  type SigningWorkerOptions,
} from "./worker";
