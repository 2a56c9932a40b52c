import { createServer } from "node:http";
import { isEsignError } from "@esign/errors";
import { collectDefaultMetrics, register } from "prom-client";
import { z } from "zod";
import { loadNotifierConfigFromEnv, type NotifierConfig } from "./config";
import { createDeliveryCounter } from "./metrics";
import { createNotifierLogger, startNotifier } from "./notifier";

const logger = createNotifierLogger();

const MetricsEnvSchema = z.object({
  METRICS_PORT: z
    .string()
    .regex(/^\d{1,5}$/, "METRICS_PORT must be a port number")
    .transform(Number)
    .optional(),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
});

let config: NotifierConfig;
let metricsEnv: z.output<typeof MetricsEnvSchema>;
try {
  config = loadNotifierConfigFromEnv();
  metricsEnv = MetricsEnvSchema.parse(process.env);
} catch (error) {
  logger.fatal(
    isEsignError(error) || !(error instanceof z.ZodError) ? String(error) : z.prettifyError(error),
  );
  process.exit(1);
}

collectDefaultMetrics();
const notifier = startNotifier(config, { logger, counter: createDeliveryCounter() });
logger.info(
  { queue: config.queueName, prefix: config.queuePrefix, tenants: Object.keys(config.tenants) },
  "notifier started",
);

// The standalone process serves /metrics and /healthz (embedded, the host process serves them).
const metricsServer =
  metricsEnv.METRICS_PORT === undefined
    ? undefined
    : createServer(async (request, response) => {
        if (request.url === "/healthz") {
          const running = notifier.worker.isRunning();
          response
            .writeHead(running ? 200 : 503, { "content-type": "text/plain" })
            .end(running ? "ok" : "stopped");
        } else if (request.url === "/metrics") {
          response.writeHead(200, { "content-type": register.contentType }).end(await register.metrics());
        } else {
          response.writeHead(404).end();
        }
      }).listen(metricsEnv.METRICS_PORT, metricsEnv.METRICS_HOST, () => {
        logger.info({ metrics: metricsServer?.address() }, "serving /metrics and /healthz");
      });

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, "shutting down: letting running attempts finish");
  metricsServer?.close();
  await notifier.close();
  process.exit(0);
}
process.once("SIGTERM", (signal) => void shutdown(signal));
process.once("SIGINT", (signal) => void shutdown(signal));
