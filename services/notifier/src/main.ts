import { createServer } from "node:http";
import { isEsignError } from "@esign/errors";
import { pino } from "pino";
import { register } from "prom-client";
import { loadNotifierConfigFromEnv } from "./config";
import { createDeliveryCounter } from "./metrics";
import { startNotifier } from "./notifier";

const logger = pino({ name: "esign-notifier", redact: ["config.tenants", "*.secrets"] });

let config: ReturnType<typeof loadNotifierConfigFromEnv>;
try {
  config = loadNotifierConfigFromEnv();
} catch (error) {
  logger.fatal(isEsignError(error) ? error.message : error);
  process.exit(1);
}

const notifier = startNotifier(config, { logger, counter: createDeliveryCounter() });
logger.info(
  { queue: config.queueName, prefix: config.queuePrefix, tenants: Object.keys(config.tenants) },
  "notifier started",
);

// Optional Prometheus endpoint for the standalone process (embedded, the host process serves it).
const metricsPort = process.env.METRICS_PORT;
const metricsServer =
  metricsPort === undefined
    ? undefined
    : createServer(async (request, response) => {
        if (request.url !== "/metrics") {
          response.writeHead(404).end();
          return;
        }
        response.writeHead(200, { "content-type": register.contentType }).end(await register.metrics());
      }).listen(Number(metricsPort), process.env.METRICS_HOST ?? "127.0.0.1");

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, "shutting down: letting running attempts finish");
  metricsServer?.close();
  await notifier.close();
  process.exit(0);
}
process.once("SIGTERM", (signal) => void shutdown(signal));
process.once("SIGINT", (signal) => void shutdown(signal));
