export { type BatchCoordinator, type BatchCoordinatorOptions, startBatchCoordinator } from "./coordinator";
