import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { startMetricsServer } from "../src";

describe("startMetricsServer", () => {
  it("serves /metrics and /healthz on 127.0.0.1 unless told otherwise", async () => {
    const registry = new Registry();
    new Counter({ name: "test_things_total", help: "things", registers: [registry] }).inc(3);
    let healthy = true;
    const server = await startMetricsServer({ registry, healthy: () => healthy, port: 0 });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${server.url}/metrics`)).text()).toContain("test_things_total 3");
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      healthy = false;
      expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
      expect((await fetch(`${server.url}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
