// Docker HEALTHCHECK: an HTTP GET on the endpoint the selected service serves. Plain Node (no
// tsx) so a check costs a few milliseconds of CPU.
const service = process.env.ESIGN_SERVICE ?? "api";
const metricsPort = process.env.METRICS_PORT ?? "9464";
const probes = {
  api: { port: process.env.PORT ?? "8080", path: "/healthz" },
  "all-in-one": { port: process.env.PORT ?? "8080", path: "/healthz" },
  "esign-sim": { port: process.env.PORT ?? "8090", path: "/healthz" },
  worker: { port: metricsPort, path: "/healthz" },
  // The notifier's standalone process serves /metrics only; a scrape proves its event loop runs.
  notifier: { port: metricsPort, path: "/metrics" },
};
const probe = probes[service];

if (probe === undefined) {
  console.error(`healthcheck: unknown ESIGN_SERVICE ${service}`);
  process.exit(1);
}

try {
  const response = await fetch(`http://127.0.0.1:${probe.port}${probe.path}`, {
    signal: AbortSignal.timeout(4000),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
} catch (error) {
  console.error(`healthcheck: ${service} ${probe.path} on port ${probe.port}: ${error.message}`);
  process.exit(1);
}
