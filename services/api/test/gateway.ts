import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { type ApiConfigInput, buildApi, parseApiConfig } from "../src";

export interface TestGateway {
  app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The gateway's own temporary data folder (its local store). */
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A gateway in this process on a free port: the shared test Redis under a prefix of its own, a
 * temporary data folder, log level warn, a 10 s Redis command bound; `settings` add to or override those.
 */
export async function startTestGateway(
  name: string,
  settings: Omit<ApiConfigInput, "dataDir">,
): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), `esign-api-${name}-`));
  const config = parseApiConfig({
    port: 0,
    redisUrl: "redis://127.0.0.1:6379",
    queuePrefix: `{esign-${name}-${randomBytes(4).toString("hex")}}`,
    logLevel: "warn",
    // Production's 1 s bound is for a Redis that stopped answering; these tests share a loaded
    // box with the whole suite, where a healthy Redis's answer can be that late (seen: a
    // MaxRetriesPerRequestError in contracts.test.ts). The outage tests set their own bound.
    redisCommandTimeoutMs: 10_000,
    ...settings,
    dataDir,
  });
  const app = await buildApi({ config });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    app,
    base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    dataDir,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
