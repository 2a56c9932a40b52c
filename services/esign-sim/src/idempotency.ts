import { createHash } from "node:crypto";
import { invalidRequest, ServiceError } from "./http/service-error";

/** The request header, as in draft-ietf-httpapi-idempotency-key-header and Stripe's API. */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** Set on an answer replayed from the store (Stripe's name): the call was not billed again. */
export const REPLAYED_HEADER = "idempotent-replayed";

/** Printable ASCII without spaces, at most 255 characters (Stripe's limit). */
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

interface Entry {
  fingerprint: string;
  /** Unset while the first request with this key is still being handled. */
  answer?: unknown;
  expiresAt: number;
}

export interface Once<T> {
  answer: T;
  /** True when `answer` is the stored answer of an earlier request with the same key. */
  replayed: boolean;
}

/** What identifies a request's content: the route and the fields that decide the signatures. */
export function requestFingerprint(route: string, fields: unknown): string {
  return createHash("sha256").update(route).update("\0").update(JSON.stringify(fields)).digest("hex");
}

/**
 * Idempotency keys of the billed sign calls, per API client, kept in memory for the simulator's
 * lifetime (a retention window, default 24 h). The first request with a key is handled and its
 * successful answer stored; a later request with the same key and the same content gets that
 * answer again without being handled (nor billed); the same key with other content is refused
 * 422, and while the first request is still running 409 (try again). A failed request stores
 * nothing, so its key can be used again.
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private nextPrune = 0;

  constructor(private readonly retentionMs: number) {}

  /** The key a request carries, checked; undefined when it has none. */
  static keyOf(header: string | string[] | undefined): string | undefined {
    if (header === undefined) return undefined;
    if (typeof header !== "string" || !KEY_FORMAT.test(header)) {
      throw invalidRequest("Invalid Idempotency-Key: 1 to 255 printable ASCII characters");
    }
    return header;
  }

  async once<T>(
    clientId: string,
    key: string | undefined,
    fingerprint: string,
    handle: () => Promise<T>,
  ): Promise<Once<T>> {
    if (key === undefined) return { answer: await handle(), replayed: false };
    this.prune();
    // Scoped per client: two clients may pick the same key without seeing each other's answers.
    const scoped = `${clientId}\0${key}`;
    const existing = this.entries.get(scoped);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        throw new ServiceError(
          422,
          "idempotency_key_reused",
          "This Idempotency-Key was used with a different request",
        );
      }
      if (!("answer" in existing)) {
        throw new ServiceError(
          409,
          "request_in_progress",
          "A request with this Idempotency-Key is still being processed",
          { "retry-after": "1" },
        );
      }
      return { answer: existing.answer as T, replayed: true };
    }
    const entry: Entry = { fingerprint, expiresAt: Number.POSITIVE_INFINITY };
    this.entries.set(scoped, entry);
    try {
      entry.answer = await handle();
    } catch (error) {
      this.entries.delete(scoped);
      throw error;
    }
    entry.expiresAt = Date.now() + this.retentionMs;
    return { answer: entry.answer as T, replayed: false };
  }

  /** Drops expired keys, at most once a second. */
  private prune(): void {
    const now = Date.now();
    if (now < this.nextPrune) return;
    this.nextPrune = now + 1000;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
