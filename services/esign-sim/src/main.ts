import { isEsignError } from "@esign/errors";
import { optionsFromEnv } from "./env";
import { startSimulator } from "./index";

try {
  const options = optionsFromEnv(process.env);
  const simulator = await startSimulator(options);
  // stdout stays for pino's JSON lines; this one line tells a human where to point clients.
  process.stderr.write(
    `esign-sim listening on http://${options.host}:${simulator.port} ` +
      `(base URL ${simulator.url}, trust anchor ${simulator.url}/pki/root.pem)\n`,
  );
  const shutdown = () => {
    simulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
} catch (error) {
  process.stderr.write(`esign-sim failed to start: ${isEsignError(error) ? error.message : String(error)}\n`);
  process.exit(1);
}
