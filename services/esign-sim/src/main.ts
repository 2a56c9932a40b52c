import { isEsignError } from "@esign/errors";
import { optionsFromEnv } from "./env";
import { startSimulator } from "./index";

try {
  const simulator = await startSimulator(optionsFromEnv(process.env));
  // stdout stays for pino's JSON lines; this one line tells a human where to point clients.
  process.stderr.write(
    `esign-sim listening on ${simulator.url} (trust anchor: ${simulator.url}/pki/root.pem)\n`,
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
