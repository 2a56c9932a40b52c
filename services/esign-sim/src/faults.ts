import { createHash, randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { ServiceError } from "./http/service-error";

/**
 * Route groups faults can be scoped to. "sign" is signatures/signHash and the CMS-mode sign call,
 * the two billed endpoints; "csc" is every CSC v2 route; "all" is every route but /admin and /healthz.
 */
export const ROUTE_GROUPS = ["sign", "csc", "cms", "tsa", "ocsp", "crl", "pki", "all"] as const;
export type RouteGroup = (typeof ROUTE_GROUPS)[number];

const rate = z.number().min(0).max(1);

export const faultConfigSchema = z
  .object({
    routes: z.array(z.enum(ROUTE_GROUPS)).min(1).default(["sign"]),
    /** Added to every matching call before anything else happens. */
    latencyMs: z.number().int().min(0).default(0),
    /** Up to this many further milliseconds, uniformly random per call. */
    jitterMs: z.number().int().min(0).default(0),
    /** Share of matching calls answered with `errorStatus`. */
    errorRate: rate.default(0),
    errorStatus: z.union([z.literal(500), z.literal(503)]).default(503),
    /** The next `count` matching calls are answered 429 with this Retry-After. */
    rateLimitBurst: z
      .object({ count: z.number().int().min(1), retryAfterSeconds: z.number().int().min(0).default(1) })
      .strict()
      .optional(),
    /** Share of matching calls that are never answered (until the client gives up). */
    hangRate: rate.default(0),
    /** Share of matching calls whose answer body is cut in half (invalid JSON / DER). */
    malformedRate: rate.default(0),
    /** Share of sign calls answered with a well-formed signature over a different digest. */
    wrongSignatureRate: rate.default(0),
  })
  .strict();

export type FaultConfigInput = z.input<typeof faultConfigSchema>;
export type FaultConfig = z.output<typeof faultConfigSchema>;

/** What the handler and the reply hooks must do for one call after the up-front faults passed. */
export interface FaultVerdict {
  malformed: boolean;
  wrongSignature: boolean;
}

export const NO_FAULT: FaultVerdict = { malformed: false, wrongSignature: false };

function happens(share: number): boolean {
  return share > 0 && Math.random() < share;
}

export class FaultInjector {
  private config: FaultConfig | undefined;
  private burstRemaining = 0;
  private readonly hanging = new Set<() => void>();

  constructor(initial: FaultConfigInput | undefined) {
    if (initial) this.set(initial);
  }

  /** Replaces the active faults; throws a ZodError for an invalid configuration. */
  set(input: FaultConfigInput): FaultConfig {
    const config = faultConfigSchema.parse(input);
    this.config = config;
    this.burstRemaining = config.rateLimitBurst?.count ?? 0;
    return config;
  }

  clear(): void {
    this.config = undefined;
    this.burstRemaining = 0;
  }

  /** The active configuration, with how much of a 429 burst is left. */
  current(): (FaultConfig & { rateLimitBurstRemaining: number }) | null {
    return this.config ? { ...this.config, rateLimitBurstRemaining: this.burstRemaining } : null;
  }

  private applies(groups: readonly RouteGroup[]): FaultConfig | undefined {
    const config = this.config;
    if (!config || groups.length === 0) return undefined;
    return config.routes.some((route) => route === "all" || groups.includes(route)) ? config : undefined;
  }

  /**
   * Runs the faults that act before the handler: latency, hangs, 429 bursts and 5xx answers.
   * Resolves `"hang"` when the call must never be answered; throws the injected error answers.
   */
  async beforeHandler(
    groups: readonly RouteGroup[],
    connectionClosed: Promise<void>,
  ): Promise<FaultVerdict | "hang"> {
    const config = this.applies(groups);
    if (!config) return NO_FAULT;
    const delay = config.latencyMs + (config.jitterMs > 0 ? randomInt(config.jitterMs + 1) : 0);
    if (delay > 0) await sleep(delay);
    if (happens(config.hangRate)) {
      await this.hangUntil(connectionClosed);
      return "hang";
    }
    if (this.burstRemaining > 0 && config.rateLimitBurst) {
      this.burstRemaining--;
      const retryAfter = String(config.rateLimitBurst.retryAfterSeconds);
      throw new ServiceError(429, "rate_limited", "Too many requests (injected fault)", {
        "retry-after": retryAfter,
      });
    }
    if (happens(config.errorRate)) {
      throw config.errorStatus === 503
        ? new ServiceError(503, "temporarily_unavailable", "Service unavailable (injected fault)", {
            "retry-after": "1",
          })
        : new ServiceError(500, "server_error", "Internal error (injected fault)");
    }
    return { malformed: happens(config.malformedRate), wrongSignature: happens(config.wrongSignatureRate) };
  }

  private hangUntil(connectionClosed: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        this.hanging.delete(release);
        resolve();
      };
      this.hanging.add(release);
      void connectionClosed.then(release);
    });
  }

  /** Lets hanging calls go when the simulator shuts down (their connections are destroyed). */
  releaseHangingCalls(): void {
    for (const release of [...this.hanging]) release();
  }
}

/**
 * For the wrong-signature fault: a digest of the same length that is not the one the client sent,
 * so the signature is well-formed and verifies, just not over the client's data.
 */
export function decoyDigest(digest: Buffer): Buffer {
  return createHash("sha512")
    .update("esign-sim wrong signature fault")
    .update(digest)
    .digest()
    .subarray(0, digest.length);
}
