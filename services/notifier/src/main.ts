import { createLogger, runService, startMetricsServer } from "@esign/runtime";
import { collectDefaultMetrics, Registry } from "prom-client";
import { loadNotifierConfigFromEnv } from "./config";
import { createDeliveryCounter } from "./metrics";
import { startNotifier } from "./notifier";

/** Standalone notifier; SIGTERM/SIGINT let running attempts finish (retries wait in Redis). */
await runService("esign-notifier", async () => {
  const config = loadNotifierConfigFromEnv();
  const logger = createLogger({ name: "esign-notifier", level: config.logLevel });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const notifier = startNotifier(config, {
    logger,
    counter: createDeliveryCounter([registry]),
    registry,
  });
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer({
          registry,
          healthy: () => notifier.worker.isRunning(),
          port: config.metricsPort,
          host: config.metricsHost,
        });
  logger.info(
    {
      queue: config.queueName,
      prefix: config.queuePrefix,
      tenants: Object.keys(config.tenants),
      metrics: metrics?.url,
    },
    "notifier started",
  );
  return {
    async close() {
      logger.info("shutting down: letting running attempts finish");
      await metrics?.close();
      await notifier.close();
    },
  };
});
