// Docker HEALTHCHECK: GET /healthz on the port the selected service listens on. Plain Node with no
// imports, so a check costs a few milliseconds of CPU.
const service = process.env.ESIGN_SERVICE ?? "api";
const metricsPort = process.env.METRICS_PORT ?? "9464";
const ports = {
  api: process.env.PORT ?? "8080",
  "all-in-one": process.env.PORT ?? "8080",
  "esign-sim": process.env.PORT ?? "8090",
  // The worker and the notifier serve /healthz next to /metrics.
  worker: metricsPort,
  notifier: metricsPort,
};
const port = ports[service];

if (port === undefined) {
  console.error(`healthcheck: unknown ESIGN_SERVICE ${service}`);
  process.exit(1);
}

try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
} catch (error) {
  console.error(`healthcheck: ${service} /healthz on port ${port}: ${error.message}`);
  process.exit(1);
}
