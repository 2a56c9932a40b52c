import { createHash } from "node:crypto";
import { EsignError } from "@esign/errors";
import type { ObjectRef, ObjectStore } from "@esign/storage";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

export const AUDIT_EVENT_TYPES = [
  "created",
  "sent",
  "viewed",
  "otp.sent",
  "otp.failed",
  "otp.passed",
  "locked",
  "signed",
  "declined",
  "voided",
  "expired",
  "reminded",
  "sealed",
  "completed",
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditEntry {
  /** 1 for the first entry, then consecutive. */
  seq: number;
  /** ISO time of the append. */
  at: string;
  type: AuditEventType;
  contractId: string;
  signerId?: string;
  ip?: string;
  userAgent?: string;
  details?: Record<string, unknown>;
  /** Hex SHA-256 of the previous entry (its `hash`); 64 zeros for the first. */
  prev: string;
  /** Hex SHA-256 of the canonical JSON of this entry without `hash`. */
  hash: string;
}

export interface AuditEvent {
  type: AuditEventType;
  signerId?: string;
  ip?: string;
  userAgent?: string;
  /** Plain JSON (digests, certificate subjects, reasons): never a PIN, OTP, code or token. */
  details?: Record<string, unknown>;
}

export interface AuditVerification {
  valid: boolean;
  /** Entries found in the store. */
  entries: number;
  /** The chain head Redis holds (64 zeros for an empty trail): what the stored entries must lead to. */
  head: string;
  /** Sequence number of the first entry found wrong or missing. */
  brokenAt?: number;
  reason?: string;
}

export interface AuditTrailOptions {
  redis: Redis;
  /** Redis key prefix (the queue prefix in a deployment, a unique one in tests). */
  keyPrefix: string;
  store: ObjectStore;
  /** The contract's folder in `store`; entries go under `<folder>/audit/`. */
  folderOf(contractId: string): ObjectRef;
  logger?: Logger;
}

export const GENESIS_HASH = "0".repeat(64);
/** Zero-padded so the store lists entries in chain order. */
const SEQ_DIGITS = 8;
/** Appends racing for one contract retry this often before giving up (E_UNAVAILABLE, retryable). */
const MAX_APPEND_ATTEMPTS = 200;
const MAX_ENTRY_BYTES = 1024 * 1024;

/**
 * Advances the head from the expected sequence number to the next one, and keeps the new entry in
 * the pending hash until it is known to be in the store. Returns 0 when another process got there
 * first.
 * KEYS: head, pending. ARGV: expected seq, expected hash, new seq, new hash, entry JSON.
 */
const ADVANCE_HEAD = `
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local hash = redis.call('HGET', KEYS[1], 'hash') or '${GENESIS_HASH}'
if seq ~= tonumber(ARGV[1]) or hash ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])
return 1
`;

/**
 * Records that every entry up to ARGV[1] is in the store: raises the watermark (never lowers it) and
 * forgets those pending entries. KEYS: head, pending.
 */
const ADVANCE_MIRRORED = `
local mirrored = tonumber(redis.call('HGET', KEYS[1], 'mirrored') or '0')
local target = tonumber(ARGV[1])
if target <= mirrored then return mirrored end
redis.call('HSET', KEYS[1], 'mirrored', target)
for seq = mirrored + 1, target do redis.call('HDEL', KEYS[2], tostring(seq)) end
return target
`;

interface Head {
  seq: number;
  hash: string;
  /** Every entry up to this one is known to have been written to the store. */
  mirrored: number;
}

/**
 * An append-only, hash-chained audit trail per contract. Redis holds the chain head (sequence
 * number and hash), which appends advance by compare-and-set, so appends from any number of
 * processes chain one after the other; each entry is then written to the store as
 * `<folder>/audit/<seq>.json`. An entry appended by a process that died before writing it stays
 * pending in Redis and is written by the next append, read or verify; entries below the mirrored
 * watermark are never rewritten, so deleting or editing them is detected, not repaired.
 */
export class AuditTrail {
  /** Per contract, the last append this instance started: its appends run one after the other. */
  private readonly appending = new Map<string, Promise<unknown>>();

  constructor(private readonly options: AuditTrailOptions) {}

  /**
   * Appends of one instance to one contract are chained in call order, so only appends from other
   * processes (or instances) race for the head: without that, n appends in flight at once would
   * cost n² compare-and-set attempts (bench/evidence.ts).
   */
  async append(contractId: string, event: AuditEvent): Promise<AuditEntry> {
    if (!AUDIT_EVENT_TYPES.includes(event.type)) {
      throw new EsignError("E_INTERNAL", `unknown audit event type ${JSON.stringify(event.type)}`);
    }
    // Before the head moves: a contract whose folder is not in this store must not get an entry.
    this.auditFolder(contractId);
    const previous = this.appending.get(contractId) ?? Promise.resolve();
    const appended = previous.then(() => this.appendNow(contractId, event));
    const tail = appended.catch(() => undefined);
    this.appending.set(contractId, tail);
    try {
      return await appended;
    } finally {
      if (this.appending.get(contractId) === tail) this.appending.delete(contractId);
    }
  }

  private async appendNow(contractId: string, event: AuditEvent): Promise<AuditEntry> {
    const keys = this.keys(contractId);
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const head = await this.head(contractId);
      const entry = sealEntry({
        seq: head.seq + 1,
        at: new Date().toISOString(),
        type: event.type,
        contractId,
        signerId: event.signerId,
        ip: event.ip,
        userAgent: event.userAgent,
        details: event.details,
        prev: head.hash,
      });
      const json = serializeEntry(entry);
      const advanced = await this.redisCall(() =>
        this.options.redis.eval(
          ADVANCE_HEAD,
          2,
          keys.head,
          keys.pending,
          head.seq,
          head.hash,
          entry.seq,
          entry.hash,
          json,
        ),
      );
      if (advanced === 1) {
        // The entry is recorded once the head has moved (it waits in Redis until it is in the
        // store): a failed store write is left to the next append, read or verify, since failing
        // here would have the caller append the same event twice.
        await this.mirror(contractId).catch((error: unknown) => {
          this.options.logger?.warn(
            { err: error, contractId, seq: entry.seq },
            "audit entry recorded, its store write is retried by the next append, read or verify",
          );
        });
        return entry;
      }
      // Another process appended in between: chain after its entry. A little jitter spreads retries.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, attempt * 2)));
    }
    throw new EsignError(
      "E_UNAVAILABLE",
      `audit trail of contract ${contractId}: ${MAX_APPEND_ATTEMPTS} appends in a row lost the race`,
    );
  }

  /** The entries as stored, in order. Not a proof: `verify` says whether they are intact. */
  async read(contractId: string): Promise<AuditEntry[]> {
    await this.mirror(contractId);
    const stored = await this.readStored(contractId);
    return stored.map(({ key, text }) => {
      const entry = parseEntry(text);
      if (!entry) throw new EsignError("E_VERIFY", `audit entry ${key} is not an audit entry`);
      return entry;
    });
  }

  /**
   * Recomputes the chain over the stored entries and compares its end with the head in Redis:
   * an edited, deleted, reordered, inserted or truncated entry makes the trail invalid.
   */
  async verify(contractId: string): Promise<AuditVerification> {
    await this.mirror(contractId);
    const head = await this.head(contractId);
    const stored = await this.readStored(contractId);
    const folder = this.auditFolder(contractId);
    const broken = (brokenAt: number, reason: string): AuditVerification => ({
      valid: false,
      entries: stored.length,
      head: head.hash,
      brokenAt,
      reason,
    });
    let prev = GENESIS_HASH;
    for (const [index, { key, text }] of stored.entries()) {
      const seq = index + 1;
      if (key !== entryKey(folder, seq)) {
        return broken(seq, `entry ${seq} is missing (found ${key.slice(folder.length)} in its place)`);
      }
      const entry = parseEntry(text);
      if (!entry) return broken(seq, `entry ${seq} is not a well-formed audit entry`);
      if (entry.seq !== seq) return broken(seq, `entry ${seq} says it is entry ${entry.seq}`);
      if (entry.contractId !== contractId)
        return broken(seq, `entry ${seq} belongs to contract ${entry.contractId}`);
      if (entry.prev !== prev) return broken(seq, `entry ${seq} does not follow entry ${seq - 1}`);
      if (hashOf(entry) !== entry.hash) return broken(seq, `entry ${seq} was changed after it was written`);
      prev = entry.hash;
    }
    if (stored.length < head.seq) {
      return broken(stored.length + 1, `the trail ends at entry ${stored.length}; it has ${head.seq}`);
    }
    if (stored.length > head.seq) {
      return broken(
        head.seq + 1,
        `entries after ${head.seq}, the last one appended, were added to the store`,
      );
    }
    if (prev !== head.hash) {
      return broken(head.seq, "the stored chain does not end at the head recorded when it was appended");
    }
    return { valid: true, entries: stored.length, head: head.hash };
  }

  private keys(contractId: string) {
    const base = `${this.options.keyPrefix}:audit:${contractId}`;
    return { head: `${base}:head`, pending: `${base}:pending` };
  }

  private auditFolder(contractId: string): string {
    const folder = this.options.folderOf(contractId);
    if (folder.store !== this.options.store.name) {
      throw new EsignError(
        "E_CONFIG",
        `the audit trail writes to store ${this.options.store.name}, but contract ${contractId} lives in ${folder.store}`,
      );
    }
    return `${folder.key.replace(/\/+$/, "")}/audit/`;
  }

  private async head(contractId: string): Promise<Head> {
    const [seq, hash, mirrored] = await this.redisCall(() =>
      this.options.redis.hmget(this.keys(contractId).head, "seq", "hash", "mirrored"),
    );
    return { seq: Number(seq ?? 0), hash: hash ?? GENESIS_HASH, mirrored: Number(mirrored ?? 0) };
  }

  /**
   * Writes the pending entries above the watermark that the store lacks (their writer may have
   * died), then raises the watermark to the head seen. Rewriting is safe: the bytes are the ones
   * the head was advanced with, so two processes writing one entry write the same object.
   */
  private async mirror(contractId: string): Promise<void> {
    const { store, redis } = this.options;
    const keys = this.keys(contractId);
    const folder = this.auditFolder(contractId);
    const head = await this.head(contractId);
    if (head.mirrored >= head.seq) return;
    const seqs = Array.from({ length: head.seq - head.mirrored }, (_, index) =>
      String(head.mirrored + 1 + index),
    );
    const pending = await this.redisCall(() => redis.hmget(keys.pending, ...seqs));
    for (const [index, json] of pending.entries()) {
      // Already mirrored by another process, which raised the watermark and dropped it from pending.
      if (json === null) continue;
      const key = entryKey(folder, Number(seqs[index]));
      if (!(await store.exists(key))) {
        await store.write(key, [Buffer.from(json)], { contentType: "application/json" });
      }
    }
    await this.redisCall(() => redis.eval(ADVANCE_MIRRORED, 2, keys.head, keys.pending, head.seq));
  }

  private async readStored(contractId: string): Promise<{ key: string; text: string }[]> {
    const { store } = this.options;
    const folder = this.auditFolder(contractId);
    const stored: { key: string; text: string }[] = [];
    for await (const object of store.list(folder)) {
      const bytes = await store.read(object.key, { maxBytes: MAX_ENTRY_BYTES });
      stored.push({ key: object.key, text: Buffer.from(bytes).toString("utf8") });
    }
    return stored;
  }

  private async redisCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (cause) {
      throw new EsignError("E_UNAVAILABLE", `audit trail: Redis refused: ${(cause as Error).message}`, {
        cause,
      });
    }
  }
}

function entryKey(folder: string, seq: number): string {
  return `${folder}${String(seq).padStart(SEQ_DIGITS, "0")}.json`;
}

/**
 * JSON with object keys sorted at every level and no whitespace; undefined members left out.
 * Values are plain JSON (entries pass through JSON first), so the text is the same in every process.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
}

function hashOf(entry: Omit<AuditEntry, "hash"> & { hash?: string }): string {
  const { hash: _hash, ...unsealed } = entry;
  return createHash("sha256").update(canonicalJson(unsealed)).digest("hex");
}

function sealEntry(unsealed: Omit<AuditEntry, "hash">): AuditEntry {
  // Through JSON once: dates become strings, undefined members go, as they will in the store.
  const plain = JSON.parse(JSON.stringify(unsealed)) as Omit<AuditEntry, "hash">;
  return { ...plain, hash: hashOf(plain) };
}

function serializeEntry(entry: AuditEntry): string {
  return `${canonicalJson(entry)}\n`;
}

function parseEntry(text: string): AuditEntry | undefined {
  try {
    const entry = JSON.parse(text) as AuditEntry;
    const wellFormed =
      entry !== null &&
      typeof entry === "object" &&
      Number.isInteger(entry.seq) &&
      typeof entry.hash === "string" &&
      typeof entry.prev === "string" &&
      typeof entry.contractId === "string" &&
      AUDIT_EVENT_TYPES.includes(entry.type);
    return wellFormed ? entry : undefined;
  } catch {
    return undefined;
  }
}
