import { z } from "zod";
import { integer, text } from "./variables";

/** Settings most services share, as configuration schema fields with their one default each. */

export const RedisUrlSchema = z
  .url({ protocol: /^rediss?$/, message: "must be a redis:// or rediss:// URL" })
  .default("redis://127.0.0.1:6379");

export const PortSchema = z.int().min(0).max(65_535);

/** Interface to bind: loopback unless a deployment opens it (the container image sets 0.0.0.0). */
export const BindHostSchema = z.string().min(1).default("127.0.0.1");

/** `/metrics` and `/healthz` of services without an HTTP server of their own (see startMetricsServer). */
export const METRICS_FIELDS = {
  /** Undefined serves none (embedded use); 0 picks a free port. */
  metricsPort: PortSchema.optional(),
  metricsHost: BindHostSchema,
};

export const METRICS_BINDINGS = { metricsPort: integer("METRICS_PORT"), metricsHost: text("METRICS_HOST") };
