import { EsignError } from "@esign/errors";
import { z } from "zod";
import { faultConfigSchema } from "./faults";
import type { SimulatorOptions } from "./index";

const optionalInteger = (minimum: number) => z.coerce.number().int().min(minimum).optional();

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  HOST: z.string().min(1).default("127.0.0.1"),
  ESIGN_SIM_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  ESIGN_SIM_DATA: z.string().min(1).default("./.data/esign-sim"),
  ESIGN_SIM_ADMIN_TOKEN: z.string().min(16, "use at least 16 characters").optional(),
  ESIGN_SIM_CALLS_PER_SECOND: optionalInteger(1),
  ESIGN_SIM_SIGN_CALL_BUDGET: optionalInteger(0),
  ESIGN_SIM_FAULTS: z
    .string()
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    })
    .pipe(faultConfigSchema)
    .optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** Simulator options from the environment of the standalone entry; throws E_CONFIG naming each bad variable. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): SimulatorOptions {
  const parsed = envSchema.safeParse(
    // Empty variables count as unset, as shells and compose files often leave them.
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== "")),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new EsignError("E_CONFIG", `Invalid esign-sim environment: ${problems.join("; ")}`);
  }
  const values = parsed.data;
  return {
    port: values.PORT,
    host: values.HOST,
    baseUrl: values.ESIGN_SIM_BASE_URL,
    dataDir: values.ESIGN_SIM_DATA,
    adminToken: values.ESIGN_SIM_ADMIN_TOKEN,
    limits: {
      callsPerSecond: values.ESIGN_SIM_CALLS_PER_SECOND,
      signCallBudget: values.ESIGN_SIM_SIGN_CALL_BUDGET,
    },
    faults: values.ESIGN_SIM_FAULTS,
    logLevel: values.LOG_LEVEL,
  };
}
