import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import { QUEUES } from "@esign/jobs";
import { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./deps";

const BASE_PATH = "/admin/queues";

/** Bull Board behind the admin key; read-only unless the operator turns writes on. */
export async function adminRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const queues = Object.values(QUEUES).map(
    (name) => new Queue(name, { connection: deps.redis, prefix: deps.config.queuePrefix }),
  );
  app.addHook("onClose", async () => {
    await Promise.all(queues.map((queue) => queue.close()));
  });
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: !deps.config.bullBoardWritable })),
    serverAdapter,
  });
  await app.register(
    async (scope) => {
      scope.addHook("onRoute", (route) => {
        route.config = { ...(route.config as object), admin: true };
        route.schema = { ...route.schema, hide: true };
      });
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: BASE_PATH },
  );
}
