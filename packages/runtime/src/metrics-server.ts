import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { reachableUrl } from "./net";

export interface MetricsServerOptions {
  /** What `/metrics` serves. */
  registry: Registry;
  /** `/healthz` answers 200 while this holds, 503 otherwise (the kubelet's and Docker's probe). */
  healthy: () => boolean;
  /** 0 picks a free port. */
  port: number;
  /**
   * Interface to bind; default 127.0.0.1, so metrics are not published by accident. Containers
   * set 0.0.0.0 (METRICS_HOST) for the scraper in the next pod.
   */
  host?: string;
}

const METRICS_SERVER_DEFAULTS = { host: "127.0.0.1" } as const satisfies Partial<MetricsServerOptions>;

export interface MetricsServer {
  /** Base URL, e.g. http://127.0.0.1:9464 (a wildcard bind is reported as 127.0.0.1). */
  url: string;
  close(): Promise<void>;
}

/** `/metrics` for Prometheus and `/healthz` for probes, for services that serve no HTTP of their own. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, healthy, port, host } = { ...METRICS_SERVER_DEFAULTS, ...options };
  const server = createServer((request, response) => {
    if (request.url === "/healthz") {
      const ok = healthy();
      response.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok" : "not running");
    } else if (request.url === "/metrics") {
      registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(String(error)),
      );
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    url: reachableUrl(host, (server.address() as AddressInfo).port),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
