import type { DeliveryOutcome } from "@esign/jobs";
import { Counter, type Registry } from "prom-client";

/** Anything counting attempts by outcome; a prom-client `Counter<"outcome">` fits. */
export interface DeliveryCounter {
  inc(labels: { outcome: DeliveryOutcome }): void;
}

/**
 * `esign_webhook_deliveries_total{outcome}`: "delivered", "failed" and "skipped" count
 * finished deliveries, "retrying" counts failed attempts that will be retried.
 */
export function createDeliveryCounter(registers?: Registry[]): Counter<"outcome"> {
  return new Counter({
    name: "esign_webhook_deliveries_total",
    help: "Webhook delivery attempts by outcome",
    labelNames: ["outcome"],
    ...(registers === undefined ? {} : { registers }),
  });
}
