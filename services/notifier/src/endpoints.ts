import { disabledWebhookEndpointsKey } from "@esign/jobs";
import type { Redis } from "ioredis";

/** Why an endpoint no longer receives deliveries. */
export interface DisabledEndpoint {
  disabledAt: string;
  deliveryId: string;
  statusCode: number;
}

export interface EndpointOptions {
  prefix?: string;
}

/**
 * Per tenant: one tenant's receiver saying 410 must not silence another tenant's identical URL.
 * The URL is normalised (`HTTPS://Host:443/a` = `https://host/a`) so spelling does not matter.
 */
function endpointField(tenant: string, url: string): string {
  return `${tenant} ${URL.canParse(url) ? new URL(url).href : url}`;
}

export async function disableEndpoint(
  redis: Redis,
  tenant: string,
  url: string,
  reason: DisabledEndpoint,
  options: EndpointOptions = {},
): Promise<void> {
  await redis.hset(
    disabledWebhookEndpointsKey(options.prefix),
    endpointField(tenant, url),
    JSON.stringify(reason),
  );
}

export async function getDisabledEndpoint(
  redis: Redis,
  tenant: string,
  url: string,
  options: EndpointOptions = {},
): Promise<DisabledEndpoint | undefined> {
  const value = await redis.hget(disabledWebhookEndpointsKey(options.prefix), endpointField(tenant, url));
  return value === null ? undefined : (JSON.parse(value) as DisabledEndpoint);
}

/** Re-enables an endpoint after its owner fixed it; returns whether it was disabled. */
export async function enableEndpoint(
  redis: Redis,
  tenant: string,
  url: string,
  options: EndpointOptions = {},
): Promise<boolean> {
  return (await redis.hdel(disabledWebhookEndpointsKey(options.prefix), endpointField(tenant, url))) > 0;
}
