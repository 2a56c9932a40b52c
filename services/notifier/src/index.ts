export { type Cidr, parseCidr } from "./cidr";
export {
  loadNotifierConfigFromEnv,
  type NotifierConfig,
  type NotifierConfigInput,
  NotifierConfigSchema,
  parseNotifierConfig,
} from "./config";
export { type DeliveryAttempt, type DeliveryOutcome, getDeliveries } from "./delivery-log";
export { type DisabledEndpoint, enableEndpoint, getDisabledEndpoint } from "./endpoints";
export {
  DEFAULT_QUEUE_PREFIX,
  DEFAULT_SECRETS_KEY,
  deliveryForJobEvent,
  WEBHOOK_QUEUE,
  type WebhookDeliveryJob,
  WebhookDeliveryJobSchema,
  type WebhookEvent,
  WebhookEventSchema,
} from "./job";
export { createDeliveryCounter, type DeliveryCounter } from "./metrics";
export {
  createNotifierLogger,
  enqueueDelivery,
  type Notifier,
  type NotifierOptions,
  startNotifier,
} from "./notifier";
export { backoffDelayMs, parseRetryAfter } from "./retry-policy";
export { signatureHeader } from "./secrets";
export { type Destination, DestinationGuard, type DestinationPolicy } from "./ssrf";
