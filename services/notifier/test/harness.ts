import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type RequestListener, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import {
  type DeliveryAttempt,
  enqueueDelivery,
  getDeliveries,
  QUEUES,
  type WebhookDeliveryJob,
} from "@esign/jobs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Registry } from "prom-client";
import { Webhook } from "standardwebhooks";
import {
  createDeliveryCounter,
  type Notifier,
  type NotifierConfig,
  type NotifierConfigInput,
  parseNotifierConfig,
  startNotifier,
} from "../src/index";

export const REDIS_URL = "redis://127.0.0.1:6379";

export function newSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers to its n-th request (0-based); `hang` never answers. */
export type Script = (index: number) => { status: number; headers?: Record<string, string> } | "hang";

/** A real HTTP(S) receiver on 127.0.0.1, port 0, that records every request and TCP connection. */
export async function startReceiver(script: Script, options: { tls?: { key: string; cert: string } } = {}) {
  const requests: ReceivedRequest[] = [];
  const hanging: ServerResponse[] = [];
  let connections = 0;
  const handle: RequestListener = (request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const answer = script(requests.length);
      requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      if (answer === "hang") hanging.push(response);
      else response.writeHead(answer.status, answer.headers).end();
    });
  };
  const server = options.tls === undefined ? createServer(handle) : createTlsServer(options.tls, handle);
  server.on("connection", () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${port}/hooks/esign`,
    requests,
    connections: () => connections,
    /** Verifies request `index` with the standardwebhooks library; throws if it does not verify. */
    verify(index: number, secret: string): unknown {
      const { headers, body } = requests[index]!;
      return new Webhook(secret).verify(body, headers as Record<string, string>);
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** A notifier on a private BullMQ prefix, with everything it wrote removed by `cleanup`. */
export async function startHarness(
  overrides: Partial<NotifierConfigInput> & Pick<NotifierConfigInput, "tenants">,
) {
  const prefix = `{esign-test-${randomUUID()}}`;
  const config: NotifierConfig = parseNotifierConfig({
    redisUrl: REDIS_URL,
    queuePrefix: prefix,
    retryBaseDelayMs: 50,
    retryWindowSeconds: 60,
    timeoutMs: 5_000,
    ...overrides,
  });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.webhooks, { connection: redis, prefix });
  const metrics = new Registry();
  const counter = createDeliveryCounter([metrics]);
  let notifier: Notifier | undefined;
  const start = () => {
    notifier = startNotifier(config, { logger: pino({ level: "silent" }), counter });
    return notifier;
  };
  start();

  return {
    config,
    redis,
    queue,
    counter,
    start,
    async stop() {
      await notifier?.close();
      notifier = undefined;
    },
    async enqueue(delivery: Partial<WebhookDeliveryJob> & Pick<WebhookDeliveryJob, "url" | "tenant">) {
      const job: WebhookDeliveryJob = {
        deliveryId: `msg_${randomUUID()}`,
        jobId: `job-${randomUUID()}`,
        event: {
          type: "job.completed",
          timestamp: new Date().toISOString(),
          data: { jobId: "job-1", output: { store: "out", key: "signed.pdf" } },
        },
        ...delivery,
      };
      await enqueueDelivery(queue, job);
      return job;
    },
    deliveries: (jobId: string) => getDeliveries(redis, jobId, { prefix }),
    /** Waits until the delivery log of `jobId` has a finished entry and returns the log. */
    async finished(jobId: string): Promise<DeliveryAttempt[]> {
      return waitFor(async () => {
        const log = await getDeliveries(redis, jobId, { prefix });
        return log.some((entry) => entry.outcome !== "retrying") ? log : undefined;
      });
    },
    async outcomes(): Promise<Record<string, number>> {
      const { values } = await counter.get();
      return Object.fromEntries(values.map(({ labels, value }) => [String(labels.outcome), value]));
    },
    async cleanup() {
      await notifier?.close();
      await queue.obliterate({ force: true });
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await queue.close();
      await redis.quit();
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
