export { type Cidr, parseCidr } from "./cidr";
export {
  loadNotifierConfigFromEnv,
  type NotifierConfig,
  type NotifierConfigInput,
  NotifierConfigSchema,
  parseNotifierConfig,
} from "./config";
export { type DisabledEndpoint, enableEndpoint, getDisabledEndpoint } from "./endpoints";
export { createDeliveryCounter, type DeliveryCounter } from "./metrics";
export { type Notifier, type NotifierOptions, startNotifier } from "./notifier";
export { backoffDelayMs, parseRetryAfter } from "./retry-policy";
export { signatureHeader } from "./secrets";
export { type Destination, DestinationGuard, type DestinationPolicy } from "./ssrf";
