import { isEsignError } from "@esign/errors";
import { buildApi } from "./app";
import { loadApiConfig } from "./config";

/** Standalone gateway: `tsx services/api/src/main.ts`, configured by environment (see config.ts). */
async function main(): Promise<void> {
  const config = loadApiConfig();
  const app = await buildApi({ config });
  const shutdown = async () => {
    await app.close();
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `esign-api: ${isEsignError(error) ? `${error.code}: ` : ""}${(error as Error).message}\n`,
  );
  process.exit(1);
});
