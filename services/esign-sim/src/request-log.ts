/**
 * What reached the service, per request, without the payload itself: tests use it to prove that
 * only digests, never document bytes, are sent. Secrets are never recorded.
 */
export interface RequestLogEntry {
  id: number;
  time: string;
  method: string;
  path: string;
  /** The API client the call was authenticated as, when it was. */
  client: string | null;
  contentType: string | null;
  /** Bytes of the request body as received. */
  bodyBytes: number;
  /** The body's fields: short values as sent, longer ones described; null for non-JSON bodies. */
  fields: Record<string, unknown> | null;
  /** The answer's status; null while the call is still running (or hanging). */
  status: number | null;
}

const SHORT_STRING = 100;
const MAX_ARRAY_ITEMS = 20;
const MAX_DEPTH = 3;
const SECRET_FIELD = /^(pin|otp|password|client_secret|secret|sad|value|access_token|api_key|apikey)$/i;

export const REDACTED = "[redacted]";

function describe(value: unknown, depth: number): unknown {
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "string") {
    return value.length <= SHORT_STRING ? value : { type: "string", length: value.length };
  }
  if (Array.isArray(value)) {
    const short = value.length <= MAX_ARRAY_ITEMS && depth < MAX_DEPTH;
    return short ? value.map((item) => describe(item, depth + 1)) : { type: "array", length: value.length };
  }
  if (typeof value === "object") {
    return depth < MAX_DEPTH
      ? describeFields(value as Record<string, unknown>, depth + 1)
      : { type: "object" };
  }
  return { type: typeof value };
}

function describeFields(body: Record<string, unknown>, depth: number): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(body).map(([key, value]) => [
      key,
      SECRET_FIELD.test(key) ? REDACTED : describe(value, depth),
    ]),
  );
}

/** The fields of a parsed body, or null when the body was not a JSON/form object (e.g. DER). */
export function summariseFields(body: unknown): Record<string, unknown> | null {
  if (body === null || typeof body !== "object" || Array.isArray(body) || Buffer.isBuffer(body)) return null;
  return describeFields(body as Record<string, unknown>, 0);
}

/** The most recent requests, oldest first; older ones fall out. */
export class RequestLog {
  private readonly entries: RequestLogEntry[] = [];
  private nextId = 1;

  constructor(private readonly capacity: number) {}

  add(entry: Omit<RequestLogEntry, "id">): RequestLogEntry {
    const stored = { id: this.nextId++, ...entry };
    this.entries.push(stored);
    if (this.entries.length > this.capacity) this.entries.shift();
    return stored;
  }

  list(): RequestLogEntry[] {
    return this.entries.map((entry) => ({ ...entry }));
  }

  clear(): void {
    this.entries.length = 0;
  }
}
