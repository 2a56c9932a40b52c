import { runService } from "@esign/runtime";
import { buildApi } from "./app";
import { loadApiConfig } from "./config";

/** Standalone gateway: `tsx services/api/src/main.ts`, configured by environment (see config.ts). */
await runService("esign-api", async () => {
  const config = loadApiConfig();
  const app = await buildApi({ config });
  await app.listen({ port: config.port, host: config.host });
  return app;
});
