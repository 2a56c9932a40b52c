import { EsignError } from "@esign/errors";
import type { Redis } from "ioredis";
import type { ContractRecord, ContractStatus, SignerRecord } from "./model";
import { type ContractSecrets, hashToken } from "./secrets";
import { isClosed } from "./state";

/** Compare-and-set on the record's version: a transition computed from a stale read is not applied. */
const COMPARE_AND_SET = `
local version = redis.call("HGET", KEYS[1], "version")
if version ~= ARGV[1] then return 0 end
redis.call("HSET", KEYS[1], "data", ARGV[2], "version", tostring(tonumber(ARGV[1]) + 1))
return 1`;

/** Deletes a claim only while it is still the one this request made. */
const DELETE_IF_SAME = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`;

/**
 * How long an Idempotency-Key is held for a creation under way; once the contract is stored the
 * key is kept with it (no expiry). A gateway that dies in between frees the key after this.
 */
const IDEMPOTENCY_CLAIM_MS = 60_000;

/** Which contract an Idempotency-Key created, and a digest of the request that created it. */
export interface IdempotencyClaim {
  id: string;
  fingerprint: string;
}

/** A signer's link stays resolvable this long after the contract closed, to answer E_CONTRACT_CLOSED. */
const CLOSED_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** An OTP is good for ten minutes. */
export const OTP_TTL_SECONDS = 600;
/** The PIN/OTP hand-over lives long enough for the signature job to start, no longer. */
const HANDOFF_TTL_SECONDS = 300;
const MAX_CAS_ROUNDS = 50;

/**
 * Contracts in Redis, the only place their state lives. Every transition is a compare-and-set of
 * the whole record (one hash: JSON and version), so concurrent requests and workers never apply
 * a transition to a state that has changed meanwhile. Keys under the queue prefix (one slot on a
 * Redis Cluster): `contract:<id>`, `contract-token:<sha256>`, `contracts:<tenant>` (by creation),
 * `contract-otp:<id>:<signer>`, `contract-auth:<id>:<signer>:<attempt>`,
 * `contract-idempotency:<tenant>.<key>`.
 */
export class ContractStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:contract:${id}`;
  }

  private tokenKey(tokenHash: string): string {
    return `${this.prefix}:contract-token:${tokenHash}`;
  }

  private indexKey(tenant: string): string {
    return `${this.prefix}:contracts:${tenant}`;
  }

  private otpKey(contractId: string, signerId: string): string {
    return `${this.prefix}:contract-otp:${contractId}:${signerId}`;
  }

  handoffKey(contractId: string, signerId: string, attempt: number): string {
    return `${this.prefix}:contract-auth:${contractId}:${signerId}:${attempt}`;
  }

  private idempotencyKey(scopedKey: string): string {
    return `${this.prefix}:contract-idempotency:${scopedKey}`;
  }

  /**
   * Stores a new contract; with `idempotency`, its Idempotency-Key claim is kept for good in the
   * same transaction (a stored contract and its key are never one without the other).
   */
  async create(
    contract: ContractRecord,
    idempotency?: { key: string; claim: IdempotencyClaim },
  ): Promise<void> {
    const multi = this.redis
      .multi()
      .hset(this.key(contract.id), "data", JSON.stringify(contract), "version", "1")
      .zadd(this.indexKey(contract.tenant), Date.parse(contract.createdAt), contract.id);
    if (idempotency) multi.set(this.idempotencyKey(idempotency.key), JSON.stringify(idempotency.claim));
    for (const signer of contract.signers) {
      multi.set(this.tokenKey(signer.tokenHash), `${contract.id} ${signer.id}`);
    }
    await multi.exec();
  }

  /**
   * Claims a tenant-scoped Idempotency-Key for the contract about to be created. Answers the
   * earlier claim when the key is taken (by a stored contract, or a creation under way).
   */
  async claimIdempotencyKey(
    scopedKey: string,
    claim: IdempotencyClaim,
  ): Promise<IdempotencyClaim | undefined> {
    const key = this.idempotencyKey(scopedKey);
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      if ((await this.redis.set(key, JSON.stringify(claim), "PX", IDEMPOTENCY_CLAIM_MS, "NX")) === "OK") {
        return undefined;
      }
      const earlier = await this.redis.get(key);
      // Gone meanwhile (an abandoned claim expired): claim it again.
      if (earlier !== null) return JSON.parse(earlier) as IdempotencyClaim;
    }
    throw new EsignError("E_UNAVAILABLE", "this Idempotency-Key is changing too fast; try again");
  }

  /** A creation that failed gives its claim back (and only its own). */
  async releaseIdempotencyKey(scopedKey: string, claim: IdempotencyClaim): Promise<void> {
    await this.redis.eval(DELETE_IF_SAME, 1, this.idempotencyKey(scopedKey), JSON.stringify(claim));
  }

  async get(id: string): Promise<ContractRecord | undefined> {
    const data = await this.redis.hget(this.key(id), "data");
    return data === null ? undefined : (JSON.parse(data) as ContractRecord);
  }

  /** The contract, if it exists and belongs to `tenant` (another tenant's contract is not found). */
  async require(id: string, tenant?: string): Promise<ContractRecord> {
    const contract = await this.get(id);
    if (!contract || (tenant !== undefined && contract.tenant !== tenant)) {
      throw new EsignError("E_NOT_FOUND", `no contract ${id}`);
    }
    return contract;
  }

  /**
   * Applies `transition` to the current record and stores the result atomically, again from a
   * fresh read when another writer got there first. `transition` mutates the record it is given
   * and may throw to change nothing. Closing a contract ends its signer links.
   */
  async update<T>(
    id: string,
    transition: (contract: ContractRecord) => T,
  ): Promise<{ contract: ContractRecord; result: T }> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const [data, version] = await this.redis.hmget(this.key(id), "data", "version");
      if (data === null || version === null) throw new EsignError("E_NOT_FOUND", `no contract ${id}`);
      const contract = JSON.parse(data) as ContractRecord;
      const wasClosed = isClosed(contract);
      const result = transition(contract);
      const stored = await this.redis.eval(
        COMPARE_AND_SET,
        1,
        this.key(id),
        version,
        JSON.stringify(contract),
      );
      if (stored === 1) {
        if (!wasClosed && isClosed(contract)) await this.expireTokens(contract);
        return { contract, result };
      }
    }
    throw new EsignError("E_UNAVAILABLE", `contract ${id} is changing too fast; try again`);
  }

  private async expireTokens(contract: ContractRecord): Promise<void> {
    const multi = this.redis.multi();
    for (const signer of contract.signers)
      multi.expire(this.tokenKey(signer.tokenHash), CLOSED_TOKEN_TTL_SECONDS);
    await multi.exec();
  }

  /** The contract and signer a link token names; E_NOT_FOUND for an unknown token. */
  async byToken(token: string): Promise<{ contract: ContractRecord; signer: SignerRecord }> {
    const entry = await this.redis.get(this.tokenKey(hashToken(token)));
    const [contractId, signerId] = entry?.split(" ") ?? [];
    const contract = contractId === undefined ? undefined : await this.get(contractId);
    const signer = contract?.signers.find((candidate) => candidate.id === signerId);
    if (!contract || !signer) throw new EsignError("E_NOT_FOUND", "unknown or expired signing link");
    return { contract, signer };
  }

  /** Every tenant's contract ids, newest first: the union of the per-tenant indexes. */
  private async allIds(): Promise<string[]> {
    const created: { id: string; at: number }[] = [];
    for await (const keys of this.redis.scanStream({ match: this.indexKey("*"), count: 100 })) {
      for (const key of keys as string[]) {
        const entries = await this.redis.zrange(key, 0, -1, "WITHSCORES");
        for (let index = 0; index < entries.length; index += 2)
          created.push({ id: entries[index]!, at: Number(entries[index + 1]) });
      }
    }
    return created.sort((a, b) => b.at - a.at).map((entry) => entry.id);
  }

  /** A tenant's contracts (every tenant's when `tenant` is undefined), newest first, optionally of one status. */
  async list(
    tenant: string | undefined,
    options: { status?: ContractStatus; offset: number; limit: number },
  ): Promise<{ items: ContractRecord[]; total: number }> {
    const ids =
      tenant === undefined ? await this.allIds() : await this.redis.zrevrange(this.indexKey(tenant), 0, -1);
    const records: ContractRecord[] = [];
    // Read in pages of ids; the JSON of a contract is small.
    for (let start = 0; start < ids.length; start += 100) {
      const slice = ids.slice(start, start + 100);
      const pipeline = this.redis.pipeline();
      for (const id of slice) pipeline.hget(this.key(id), "data");
      for (const [, data] of (await pipeline.exec()) ?? []) {
        if (typeof data === "string") records.push(JSON.parse(data) as ContractRecord);
      }
    }
    const matching = options.status ? records.filter((record) => record.status === options.status) : records;
    return { items: matching.slice(options.offset, options.offset + options.limit), total: matching.length };
  }

  /** Replaces the signer's OTP (its HMAC) for ten minutes. */
  async saveOtp(contractId: string, signerId: string, otpHash: string): Promise<void> {
    await this.redis.set(this.otpKey(contractId, signerId), otpHash, "EX", OTP_TTL_SECONDS);
  }

  async otpHash(contractId: string, signerId: string): Promise<string | undefined> {
    return (await this.redis.get(this.otpKey(contractId, signerId))) ?? undefined;
  }

  /** A used OTP is gone: it cannot authorise a second signature. */
  async deleteOtp(contractId: string, signerId: string): Promise<void> {
    await this.redis.del(this.otpKey(contractId, signerId));
  }

  /** Hands `secret` to the worker for one signature attempt, encrypted, for a few minutes. */
  async putHandoff(
    secrets: ContractSecrets,
    contractId: string,
    signerId: string,
    attempt: number,
    secret: Record<string, string>,
  ): Promise<void> {
    const key = this.handoffKey(contractId, signerId, attempt);
    await this.redis.set(key, secrets.seal(JSON.stringify(secret), key), "EX", HANDOFF_TTL_SECONDS);
  }

  /** Takes the hand-over (deleted as it is read); undefined when it expired or was taken. */
  async takeHandoff(
    secrets: ContractSecrets,
    contractId: string,
    signerId: string,
    attempt: number,
  ): Promise<Record<string, string> | undefined> {
    const key = this.handoffKey(contractId, signerId, attempt);
    const box = await this.redis.getdel(key);
    return box === null ? undefined : (JSON.parse(secrets.open(box, key)) as Record<string, string>);
  }
}
