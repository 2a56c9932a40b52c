import { isEsignError } from "@esign/errors";
import { readSecret, SecretRefSchema } from "./secrets";

/** What reading a variable gave: the field's input, or a problem that names no value (it may be a secret). */
export type VariableReading = { value: unknown } | { problem: string };

/** How the text of one environment variable becomes the input of one configuration field. */
export interface EnvVariable {
  name: string;
  read(text: string): VariableReading;
}

/** Taken as it is; the configuration schema checks it. */
export function text(name: string): EnvVariable {
  return { name, read: (value) => ({ value }) };
}

export function integer(name: string): EnvVariable {
  return {
    name,
    read: (value) =>
      /^-?\d+$/.test(value.trim()) ? { value: Number(value) } : { problem: "must be a whole number" },
  };
}

/** A number that may have a fraction (`0.5`, `72`). */
export function decimal(name: string): EnvVariable {
  return {
    name,
    read: (value) =>
      /^-?(\d+(\.\d*)?|\.\d+)$/.test(value.trim())
        ? { value: Number(value) }
        : { problem: "must be a number" },
  };
}

const FLAGS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  "1": true,
  false: false,
  no: false,
  off: false,
  "0": false,
};

export function flag(name: string): EnvVariable {
  return {
    name,
    read: (value) => {
      const parsed = FLAGS[value.trim().toLowerCase()];
      return parsed === undefined
        ? { problem: "must be true or false (yes/no, on/off, 1/0)" }
        : { value: parsed };
    },
  };
}

/** Comma-separated; blanks around items and empty items are dropped. */
export function list(name: string): EnvVariable {
  return {
    name,
    read: (value) => ({
      value: value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== ""),
    }),
  };
}

export interface JsonVariableOptions {
  /** The field's input is this member of the JSON object (`{"tenants": {...}}` → its `tenants`). */
  member?: string;
}

/**
 * JSON, given inline or by reference to a file: `{"file": "/run/secrets/x.json"}` (the secret
 * reference convention) or `@/run/secrets/x.json` (the older spelling, still accepted).
 */
export function json(name: string, options: JsonVariableOptions = {}): EnvVariable {
  return {
    name,
    read(value) {
      if (value.startsWith("@")) return readJsonFile(value.slice(1), options);
      const parsed = parseJson(value);
      if ("problem" in parsed) return parsed;
      const reference = SecretRefSchema.safeParse(parsed.value);
      if (reference.success && "file" in reference.data) return readJsonFile(reference.data.file, options);
      return memberOf(parsed.value, options);
    },
  };
}

/** The path of a JSON file (e.g. WEBHOOK_SECRETS_FILE, the older spelling of `{"file": ...}`). */
export function jsonFile(name: string, options: JsonVariableOptions = {}): EnvVariable {
  return { name, read: (path) => readJsonFile(path, options) };
}

function readJsonFile(path: string, options: JsonVariableOptions): VariableReading {
  let content: string;
  try {
    content = readSecret({ file: path });
  } catch (error) {
    return { problem: isEsignError(error) ? error.message : `cannot read ${path}` };
  }
  const parsed = parseJson(content);
  return "problem" in parsed ? { problem: `${path} ${parsed.problem}` } : memberOf(parsed.value, options);
}

function parseJson(text: string): VariableReading {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    // JSON.parse's message quotes the text around the fault, i.e. possibly a secret: drop it.
    return { problem: "is not valid JSON" };
  }
}

function memberOf(value: unknown, { member }: JsonVariableOptions): VariableReading {
  if (member === undefined) return { value };
  if (typeof value === "object" && value !== null && Object.hasOwn(value, member)) {
    return { value: (value as Record<string, unknown>)[member] };
  }
  return { problem: `expected {"${member}": ...}` };
}
