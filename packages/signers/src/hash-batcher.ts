import { EsignError } from "@esign/errors";
import { z } from "zod";
import type { RawSignatureProvider, RawSignatures, SignerDescription } from "./types";

/**
 * `hashBatching` of a signer profile: gather the hashes of concurrent jobs into one call of up to
 * `maxHashes`, waiting at most `maxWaitMs` for company, and only while a call is already under way
 * (an idle system sends at once). Worth it when the credential signs several
 * hashes per call (CSC `multisign` > 1, e.g. an organisation seal) and calls are what is billed or
 * rate-limited.
 */
export const HashBatchingOptionsSchema = z.strictObject({
  maxHashes: z.int().min(2).max(10_000),
  maxWaitMs: z.int().min(1).max(5_000),
});
export type HashBatchingOptions = z.infer<typeof HashBatchingOptionsSchema>;

interface Waiting {
  hashes: Uint8Array[];
  toBeSigned: Uint8Array[];
  idempotencyKeys: readonly (string | undefined)[];
  resolve(signatures: RawSignatures): void;
  reject(error: unknown): void;
}

/**
 * A RawSignatureProvider decorator that merges concurrent `signHashes` calls of one process into
 * one call of the wrapped provider. The wait adapts to the load: with no call of ours under way
 * the hashes leave at once, with only those that arrived in the same turn of the event loop (an
 * idle system pays no latency); while a call is under way, arrivals gather until it returns, the
 * batch holds `maxHashes` hashes, or the first of them has waited `maxWaitMs`, whichever comes
 * first (a backlog fills batches). Each caller gets back exactly its own signatures, in order. If
 * the merged call fails, every caller in it gets that error (and its job retries on its own
 * terms). The CMS-building signer above checks each signature against the certificate, so a
 * mix-up could not go unnoticed. Idempotency keys travel with their hashes, so
 * the call's key is one of the batch's contents: a batch made up differently after a crash (other
 * jobs joined it) is a new call for the service, billed again.
 */
export class HashBatchingProvider implements RawSignatureProvider {
  private waiting: Waiting[] = [];
  private waitingHashes = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private callsUnderWay = 0;

  /** The wrapped provider's probe, where it has one. */
  readonly probe?: () => Promise<void>;

  constructor(
    private readonly inner: RawSignatureProvider,
    private readonly options: HashBatchingOptions,
  ) {
    if (inner.probe) this.probe = () => inner.probe!();
  }

  describe(): Promise<SignerDescription> {
    return this.inner.describe();
  }

  signHashes(
    hashes: Uint8Array[],
    toBeSigned: Uint8Array[],
    idempotencyKeys: readonly (string | undefined)[] = [],
  ): Promise<RawSignatures> {
    if (hashes.length === 0) return Promise.resolve({ signatures: [] });
    // A caller that fills a batch by itself has nobody to wait for.
    if (hashes.length >= this.options.maxHashes) return this.call(hashes, toBeSigned, idempotencyKeys);
    return new Promise<RawSignatures>((resolve, reject) => {
      if (this.waitingHashes + hashes.length > this.options.maxHashes) this.flush();
      this.waiting.push({ hashes, toBeSigned, idempotencyKeys, resolve, reject });
      this.waitingHashes += hashes.length;
      if (this.waitingHashes >= this.options.maxHashes) this.flush();
      else if (this.callsUnderWay === 0) this.immediate ??= setImmediate(() => this.flush());
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    });
  }

  /** Sends what is waiting, then closes the wrapped provider. */
  async close(): Promise<void> {
    this.flush();
    await this.inner.close?.();
  }

  /** One call of the wrapped provider; its return sends whatever gathered meanwhile. */
  private async call(
    hashes: Uint8Array[],
    toBeSigned: Uint8Array[],
    idempotencyKeys: readonly (string | undefined)[],
  ): Promise<RawSignatures> {
    this.callsUnderWay++;
    try {
      return await this.inner.signHashes(hashes, toBeSigned, idempotencyKeys);
    } finally {
      this.callsUnderWay--;
      if (this.waiting.length > 0) this.flush();
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.waiting;
    this.waiting = [];
    this.waitingHashes = 0;
    if (batch.length === 0) return;
    this.call(
      batch.flatMap((caller) => caller.hashes),
      batch.flatMap((caller) => caller.toBeSigned),
      batch.flatMap((caller) => caller.hashes.map((_, index) => caller.idempotencyKeys[index])),
    )
      .then(({ signatures, replayed }) => {
        const expected = batch.reduce((sum, caller) => sum + caller.hashes.length, 0);
        if (signatures.length !== expected) {
          throw new EsignError(
            "E_SIGNER_BAD_RESPONSE",
            `asked for ${expected} signatures in one batch, the signing service returned ${signatures.length}`,
          );
        }
        let offset = 0;
        for (const caller of batch) {
          const end = offset + caller.hashes.length;
          caller.resolve({
            signatures: signatures.slice(offset, end),
            replayed: replayed?.slice(offset, end),
          });
          offset += caller.hashes.length;
        }
      })
      .catch((error: unknown) => {
        for (const caller of batch) caller.reject(error);
      });
  }
}

/**
 * `provider` with hash batching when `options` are given (validated: a bad profile is E_CONFIG at
 * start-up, not a failed job), `provider` itself otherwise.
 */
export function withHashBatching(provider: RawSignatureProvider, options: unknown): RawSignatureProvider {
  if (options === undefined) return provider;
  const parsed = HashBatchingOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new EsignError("E_CONFIG", `invalid hashBatching: ${problems.join("; ")}`);
  }
  return new HashBatchingProvider(provider, parsed.data);
}
