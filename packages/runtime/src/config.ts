import { EsignError } from "@esign/errors";
import type { z } from "zod";
import type { EnvVariable } from "./variables";

/** Which environment variable (or alternative variables, at most one set) feeds which field. */
export type EnvBindings<Input> = { [Field in keyof Input]?: EnvVariable | readonly EnvVariable[] };

/** Where a configuration comes from besides the schema's own defaults; later ones win. */
export interface ConfigSources<Input> {
  /** Values an embedding process prefers, used where the environment sets nothing. */
  defaults?: Partial<Input>;
  /** Default `process.env`. Empty variables count as unset, as compose files and shells often leave them. */
  env?: NodeJS.ProcessEnv;
  /** Values an embedding process decides (the Redis it found, the port it picked); they win over the environment. */
  overrides?: Partial<Input>;
}

/**
 * The one error every service reports a bad configuration with: E_CONFIG, one line per problem,
 * each naming the variable (or field) and what is wrong, never its value (it may be a secret).
 */
export function configError(what: string, problems: readonly string[]): EsignError {
  return new EsignError(
    "E_CONFIG",
    `invalid ${what}:\n${problems.map((problem) => `  ${problem}`).join("\n")}`,
  );
}

/** A typed configuration checked against its schema, defaults filled in; E_CONFIG names each bad field. */
export function parseConfig<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  what: string,
): z.output<Schema> {
  const checked = schema.safeParse(input, { error: unsetMessage });
  if (checked.success) return checked.data;
  throw configError(
    what,
    checked.error.issues.map((issue) => problemOf(issue, issue.path.map(String))),
  );
}

/**
 * A typed configuration from the environment: each bound variable is read into its field, then the
 * whole is checked by `schema`, which holds every constraint and default, so the environment and
 * an embedding process (which passes typed `defaults` and `overrides`) get the same configuration.
 * E_CONFIG names each bad variable.
 */
export function loadConfig<Schema extends z.ZodType<unknown, Record<string, unknown>>>(
  schema: Schema,
  bindings: EnvBindings<z.input<Schema>>,
  what: string,
  sources: ConfigSources<z.input<Schema>> = {},
): z.output<Schema> {
  const env = sources.env ?? process.env;
  const input: Record<string, unknown> = { ...sources.defaults };
  /** Per field: the problem reading its variable, which makes its schema issues moot. */
  const unreadable = new Map<string, string>();
  const variableNames = new Map<string, string>();
  for (const [field, binding] of Object.entries(bindings as Record<string, EnvVariable | EnvVariable[]>)) {
    const variables = [binding].flat();
    variableNames.set(field, variables.map(({ name }) => name).join(" or "));
    const set = variables.filter(({ name }) => env[name] !== undefined && env[name] !== "");
    if (set.length > 1) {
      unreadable.set(field, `set either ${set.map(({ name }) => name).join(" or ")}, not both`);
      continue;
    }
    const [variable] = set;
    if (variable === undefined) continue;
    const reading = variable.read(env[variable.name]!);
    if ("problem" in reading) unreadable.set(field, `${variable.name}: ${reading.problem}`);
    else input[field] = reading.value;
  }
  for (const [field, value] of Object.entries(sources.overrides ?? {})) {
    input[field] = value;
    // The environment is not used for this field, and a problem with the chosen value is the
    // embedding process's own, not the variable's.
    variableNames.delete(field);
    unreadable.delete(field);
  }
  const checked = schema.safeParse(input, { error: unsetMessage });
  if (checked.success && unreadable.size === 0) return checked.data;
  const problems = [...unreadable.values()];
  for (const issue of checked.success ? [] : checked.error.issues) {
    const [field, ...rest] = issue.path.map(String);
    if (field !== undefined && unreadable.has(field)) continue;
    const name = field === undefined ? undefined : (variableNames.get(field) ?? field);
    problems.push(problemOf(issue, name === undefined ? [] : [name, ...rest]));
  }
  throw configError(what, problems);
}

/**
 * A service's `load<Service>Config(env, sources)`: loadConfig bound to its schema and variables,
 * reading `process.env` unless given another environment.
 */
export function configLoader<Schema extends z.ZodType<unknown, Record<string, unknown>>>(
  schema: Schema,
  bindings: EnvBindings<z.input<Schema>>,
  what: string,
) {
  return (
    env: NodeJS.ProcessEnv = process.env,
    sources: Omit<ConfigSources<z.input<Schema>>, "env"> = {},
  ): z.output<Schema> => loadConfig(schema, bindings, what, { ...sources, env });
}

function problemOf(issue: z.core.$ZodIssue, path: readonly string[]): string {
  return path.length === 0 ? issue.message : `${path.join(".")}: ${issue.message}`;
}

/** zod's "expected string, received undefined" means, for configuration, that nothing was set. */
function unsetMessage(issue: z.core.$ZodRawIssue): string | undefined {
  return issue.input === undefined ? "is not set" : undefined;
}
