export { type BuildApiOptions, buildApi } from "./app";
export { type ApiConfig, hashApiKey, loadApiConfig } from "./config";
