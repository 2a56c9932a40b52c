import { runService } from "@esign/runtime";
import { optionsFromEnv } from "./config";
import { startSimulator } from "./index";

await runService("esign-sim", async () => {
  const options = optionsFromEnv(process.env);
  const simulator = await startSimulator(options);
  // stdout stays for pino's JSON lines; this one line tells a human where to point clients.
  process.stderr.write(
    `esign-sim listening on http://${options.host}:${simulator.port} ` +
      `(base URL ${simulator.url}, trust anchor ${simulator.url}/pki/root.pem)\n`,
  );
  return simulator;
});
