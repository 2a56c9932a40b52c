import type { EsignError } from "@esign/errors";

export interface RetryPolicy {
  retryWindowSeconds: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  clientErrorAttempts: number;
}

/** What one attempt produced: an HTTP answer or an error before/while talking to the receiver. */
export type AttemptResult =
  | { kind: "answer"; status: number; retryAfterMs: number | undefined }
  | { kind: "error"; error: EsignError };

export type Decision =
  | { kind: "delivered" }
  | { kind: "retry"; at: number }
  | { kind: "failed"; reason: string; disableEndpoint: boolean };

// Receivers use these to say "later": they are worth the full retry window.
const TRANSIENT_CLIENT_STATUSES = new Set([408, 425, 429]);

/**
 * Decides what follows attempt number `attempt` (1-based) of a delivery whose retry window
 * opened at `windowStart`; `finishedAt` is when the attempt ended (Retry-After counts from it).
 *
 * Other 4xx answers (400, 401, 403, 404, 422, ...) are retried `clientErrorAttempts` times, not
 * for the whole window and not never: in practice they mostly come from a receiver mid-deploy or
 * mid-secret-rotation and heal within minutes, but one that stays broken is misconfigured and a
 * day of retries would only add load on both sides. 3xx are not retried: redirects are not
 * followed (the target would bypass the SSRF guard) and the answer will not change by itself.
 */
export function decideAfterAttempt(
  result: AttemptResult,
  attempt: number,
  windowStart: number,
  finishedAt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): Decision {
  let retryAfterMs: number | undefined;
  if (result.kind === "error") {
    if (result.error.permanent) return failed(result.error.message);
  } else {
    const { status } = result;
    if (status >= 200 && status < 300) return { kind: "delivered" };
    if (status === 410) return { kind: "failed", reason: "endpoint disabled", disableEndpoint: true };
    if (status >= 300 && status < 400) return failed("redirects are not followed");
    const isOtherClientError = status >= 400 && status < 500 && !TRANSIENT_CLIENT_STATUSES.has(status);
    if (isOtherClientError && attempt >= policy.clientErrorAttempts) {
      return failed(`client error on attempt ${attempt} of ${policy.clientErrorAttempts}`);
    }
    if (status === 429 || status === 503) retryAfterMs = result.retryAfterMs;
  }
  const delayMs = Math.max(backoffDelayMs(attempt, policy, random), retryAfterMs ?? 0);
  const at = finishedAt + delayMs;
  if (at > windowStart + policy.retryWindowSeconds * 1000) {
    return failed(`retry window of ${policy.retryWindowSeconds} s exhausted after ${attempt} attempts`);
  }
  return { kind: "retry", at };
}

/** Exponential backoff with "equal jitter": half fixed (a floor), half random (spreads herds). */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const exponential = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date; undefined if unusable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function failed(reason: string): Decision {
  return { kind: "failed", reason, disableEndpoint: false };
}
