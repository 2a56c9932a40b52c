import { type ErrorCode, EsignError } from "@esign/errors";

export interface HttpCallOptions {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** The whole exchange (connect, answer, body) must finish within this. */
  timeoutMs: number;
  /** The error code for a failure to get any answer (network, timeout). */
  unavailableCode: ErrorCode;
  /** Names the service in messages, e.g. "time-stamp authority". */
  service: string;
  /**
   * Public PKI files (CRLs, CA certificates) are often moved behind redirects; answers from
   * services we authenticate to are not followed anywhere. Default false.
   */
  followRedirects?: boolean;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/**
 * One HTTP exchange with a deadline. Only "no answer at all" is an error here (always transient:
 * networks heal); what a status means is the caller's protocol's business.
 */
export async function httpCall(url: string, options: HttpCallOptions): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, {
      method: options.method ?? "POST",
      headers: options.headers,
      body: options.body,
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: options.followRedirects ? "follow" : "error",
    });
    return {
      status: response.status,
      headers: response.headers,
      body: new Uint8Array(await response.arrayBuffer()),
    };
  } catch (cause) {
    const timedOut = (cause as Error)?.name === "TimeoutError";
    const reason = timedOut ? `no answer within ${options.timeoutMs} ms` : (cause as Error).message;
    throw new EsignError(options.unavailableCode, `${options.service} at ${url}: ${reason}`, {
      cause,
      permanent: false,
    });
  }
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date), if there is a usable one. */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
