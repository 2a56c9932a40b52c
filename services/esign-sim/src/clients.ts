import { ServiceError } from "./http/service-error";
import { constantTimeEqual } from "./secrets";
import type { UsageMeter } from "./usage";

/** Per-client limits; absent means unlimited. */
export interface ClientLimits {
  /** API calls (CSC and CMS mode) one client may make within one wall-clock second; more get 429. */
  callsPerSecond?: number;
  /** Billed sign calls the client may make until usage is reset; more get 402. */
  signCallBudget?: number;
}

/** An API client of the signing service: OAuth 2.0 client credentials for CSC, API keys for the CMS mode. */
export interface ClientDefinition extends ClientLimits {
  id: string;
  secret: string;
  apiKeys: string[];
}

export const DEFAULT_CLIENTS: readonly ClientDefinition[] = [
  { id: "demo", secret: "demo-secret", apiKeys: ["demo-key"] },
];

export interface SignCallReservation {
  acceptedSecond: number;
  /** The call produced signatures: bill it. */
  bill(signatures: number): void;
  /** The call failed before producing signatures: free its place in the budget. */
  release(): void;
}

export class ClientRegistry {
  private readonly windows = new Map<string, { second: number; calls: number }>();
  private readonly signCallsInFlight = new Map<string, number>();

  constructor(
    private readonly clients: readonly ClientDefinition[],
    private readonly defaults: ClientLimits,
    private readonly usage: UsageMeter,
  ) {}

  byId(clientId: string): ClientDefinition | undefined {
    return this.clients.find((candidate) => candidate.id === clientId);
  }

  authenticate(clientId: string, secret: string): ClientDefinition | undefined {
    const client = this.clients.find((candidate) => candidate.id === clientId);
    return client && constantTimeEqual(secret, client.secret) ? client : undefined;
  }

  byApiKey(apiKey: string): ClientDefinition | undefined {
    return this.clients.find((client) => client.apiKeys.some((key) => constantTimeEqual(apiKey, key)));
  }

  private limits(client: ClientDefinition): ClientLimits {
    return {
      callsPerSecond: client.callsPerSecond ?? this.defaults.callsPerSecond,
      signCallBudget: client.signCallBudget ?? this.defaults.signCallBudget,
    };
  }

  /**
   * Admits one API call of `client` or throws 429. Fixed windows aligned to wall-clock seconds,
   * so that no second ever holds more accepted calls than the limit.
   */
  admitCall(client: ClientDefinition): void {
    const { callsPerSecond } = this.limits(client);
    if (callsPerSecond === undefined) return;
    const second = Math.floor(Date.now() / 1000);
    const window = this.windows.get(client.id);
    if (!window || window.second !== second) {
      this.windows.set(client.id, { second, calls: 1 });
      return;
    }
    if (window.calls >= callsPerSecond) {
      throw new ServiceError(
        429,
        "rate_limited",
        `Client ${client.id} may make ${callsPerSecond} calls per second`,
        { "retry-after": "1" },
      );
    }
    window.calls++;
  }

  /**
   * Takes a place in the client's signing budget for one sign call, or throws 402. Calls in
   * flight hold their place, so concurrent calls cannot overdraw the budget.
   */
  reserveSignCall(client: ClientDefinition): SignCallReservation {
    const { signCallBudget } = this.limits(client);
    const inFlight = this.signCallsInFlight.get(client.id) ?? 0;
    if (signCallBudget !== undefined && this.usage.signCalls(client.id) + inFlight >= signCallBudget) {
      throw new ServiceError(
        402,
        "quota_exceeded",
        `Client ${client.id} has used its budget of ${signCallBudget} sign calls`,
      );
    }
    this.signCallsInFlight.set(client.id, inFlight + 1);
    const acceptedSecond = Math.floor(Date.now() / 1000);
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.signCallsInFlight.set(client.id, (this.signCallsInFlight.get(client.id) ?? 1) - 1);
      return true;
    };
    return {
      acceptedSecond,
      bill: (signatures) => {
        if (settle()) this.usage.recordSign(client.id, signatures, acceptedSecond);
      },
      release: () => {
        settle();
      },
    };
  }
}
