export { type BuildApiOptions, buildApi } from "./app";
export {
  type ApiConfig,
  type ApiConfigInput,
  ApiConfigSchema,
  DEV_TENANT,
  hashApiKey,
  loadApiConfig,
  parseApiConfig,
} from "./config";
