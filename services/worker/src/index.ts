export type { CheckpointStore, SignatureCheckpoint } from "./checkpoints";
export {
  loadWorkerConfig,
  PdfPasswordsSchema,
  parseWorkerConfig,
  type SignerProfile,
  SignerProfilesSchema,
  type WorkerConfig,
  type WorkerConfigInput,
  WorkerConfigSchema,
} from "./config";
export { STAGES, type Stage, type WorkerMetrics } from "./metrics";
export { createSigningWorker, type SigningWorker, type SigningWorkerOptions } from "./worker";
