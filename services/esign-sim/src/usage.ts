/** Counters of one API client, and of all clients together, in the shape `GET /admin/usage` returns. */
export interface UsageCounters {
  /** Billed signing requests (signHash or CMS sign) that produced signatures. */
  signCalls: number;
  /** Signatures those requests produced. */
  signatures: number;
  /** Sign calls answered from the idempotency store: the stored answer again, not billed. */
  replays: number;
  tsaCalls: number;
  ocspCalls: number;
  /** The most billed sign calls accepted within one wall-clock second. */
  maxSignCallsInOneSecond: number;
}

export interface UsageReport extends UsageCounters {
  clients: Record<string, UsageCounters>;
}

/** Time-stamp and OCSP requests carry no credentials; they are counted under this client id. */
export const ANONYMOUS_CLIENT = "anonymous";

const SECONDS_KEPT = 300;

class ClientUsage {
  readonly counters: UsageCounters = {
    signCalls: 0,
    signatures: 0,
    replays: 0,
    tsaCalls: 0,
    ocspCalls: 0,
    maxSignCallsInOneSecond: 0,
  };
  /** Billed sign calls by the wall-clock second they were accepted in. */
  private readonly callsBySecond = new Map<number, number>();

  /** `acceptedSecond` is the second the call was accepted in, not the one it finished in. */
  recordSign(signatures: number, acceptedSecond: number): void {
    this.counters.signCalls++;
    this.counters.signatures += signatures;
    const calls = (this.callsBySecond.get(acceptedSecond) ?? 0) + 1;
    this.callsBySecond.set(acceptedSecond, calls);
    this.counters.maxSignCallsInOneSecond = Math.max(this.counters.maxSignCallsInOneSecond, calls);
    // No sign call runs for minutes, so seconds that far back can no longer change.
    for (const second of this.callsBySecond.keys()) {
      if (second < acceptedSecond - SECONDS_KEPT) this.callsBySecond.delete(second);
    }
  }
}

export class UsageMeter {
  private clients = new Map<string, ClientUsage>();
  private total = new ClientUsage();

  private client(clientId: string): ClientUsage {
    let usage = this.clients.get(clientId);
    if (!usage) {
      usage = new ClientUsage();
      this.clients.set(clientId, usage);
    }
    return usage;
  }

  recordSign(clientId: string, signatures: number, acceptedSecond: number): void {
    this.client(clientId).recordSign(signatures, acceptedSecond);
    this.total.recordSign(signatures, acceptedSecond);
  }

  recordCall(clientId: string, kind: "tsaCalls" | "ocspCalls" | "replays"): void {
    this.client(clientId).counters[kind]++;
    this.total.counters[kind]++;
  }

  signCalls(clientId: string): number {
    return this.clients.get(clientId)?.counters.signCalls ?? 0;
  }

  report(): UsageReport {
    return {
      ...this.total.counters,
      clients: Object.fromEntries([...this.clients].map(([id, usage]) => [id, { ...usage.counters }])),
    };
  }

  reset(): void {
    this.clients = new Map();
    this.total = new ClientUsage();
  }
}
