import {
  BindHostSchema,
  configLoader,
  integer,
  json,
  LogLevelSchema,
  PortSchema,
  text,
} from "@esign/runtime";
import { z } from "zod";
import { faultConfigSchema } from "./faults";
import type { SimulatorOptions } from "./index";

/** The standalone simulator's settings; embedded use passes SimulatorOptions directly. */
const StandaloneConfigSchema = z.object({
  port: PortSchema.default(8090),
  host: BindHostSchema,
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  dataDir: z.string().min(1).default("./.data/esign-sim"),
  adminToken: z.string().min(16, "use at least 16 characters").optional(),
  callsPerSecond: z.int().min(1).optional(),
  signCallBudget: z.int().min(0).optional(),
  faults: faultConfigSchema.optional(),
  idempotencyRetentionSeconds: z.int().min(1).optional(),
  logLevel: LogLevelSchema.default("info"),
});

const loadStandaloneConfig = configLoader(
  StandaloneConfigSchema,
  {
    port: integer("PORT"),
    host: text("HOST"),
    baseUrl: text("ESIGN_SIM_BASE_URL"),
    dataDir: text("ESIGN_SIM_DATA"),
    adminToken: text("ESIGN_SIM_ADMIN_TOKEN"),
    callsPerSecond: integer("ESIGN_SIM_CALLS_PER_SECOND"),
    signCallBudget: integer("ESIGN_SIM_SIGN_CALL_BUDGET"),
    faults: json("ESIGN_SIM_FAULTS"),
    idempotencyRetentionSeconds: integer("ESIGN_SIM_IDEMPOTENCY_RETENTION_SECONDS"),
    logLevel: text("LOG_LEVEL"),
  },
  "esign-sim environment",
);

/** Simulator options from the environment of the standalone entry; throws E_CONFIG naming each bad variable. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): SimulatorOptions {
  const { callsPerSecond, signCallBudget, ...options } = loadStandaloneConfig(env);
  return { ...options, limits: { callsPerSecond, signCallBudget } };
}
