/**
 * Every failure that crosses a package boundary is an EsignError with a stable code.
 * `permanent` tells the queue whether retrying can help: bad input never gets better by
 * retrying, a 503 from the signing service often does.
 */
export const ERROR_CODES = {
  // Input documents
  E_NOT_PDF: { permanent: true, status: 415 },
  E_PDF_CORRUPT: { permanent: true, status: 422 },
  E_ENCRYPTED: { permanent: true, status: 422 },
  /** Encrypted with a user password, and none (or a wrong one) was given. */
  E_PASSWORD: { permanent: true, status: 422 },
  /** The encryption's /P forbids the change and only the user password is known. */
  E_PERMISSION: { permanent: true, status: 422 },
  E_PDF_LIMIT: { permanent: true, status: 422 },
  E_TOO_LARGE: { permanent: true, status: 413 },
  E_DOCMDP_LOCKED: { permanent: true, status: 422 },
  E_FIELD: { permanent: true, status: 422 },
  /** A visible signature that cannot be drawn as asked: anchor not found, page or rectangle out of range, unreadable image or font, text that does not fit. */
  E_APPEARANCE: { permanent: true, status: 422 },
  E_CONTENTS_TOO_SMALL: { permanent: true, status: 500 },
  // Keys, certificates and signer configuration
  E_KEY: { permanent: true, status: 422 },
  E_CERT: { permanent: true, status: 422 },
  E_CONFIG: { permanent: true, status: 500 },
  // Remote signing service and time-stamp/revocation servers
  E_SIGNER_AUTH: { permanent: true, status: 502 },
  E_SIGNER_REJECTED: { permanent: true, status: 502 },
  E_SIGNER_REVOKED: { permanent: true, status: 502 },
  E_SIGNER_BAD_RESPONSE: { permanent: false, status: 502 },
  E_SIGNER_UNAVAILABLE: { permanent: false, status: 503 },
  E_SIGNER_RATE_LIMITED: { permanent: false, status: 503 },
  /**
   * The service answered (and billed) a signature that does not verify over our data. Permanent:
   * retrying would pay again for what is most likely the same wrong answer.
   */
  E_SIGNATURE_MISMATCH: { permanent: true, status: 502 },
  E_TSA: { permanent: false, status: 502 },
  E_REVOCATION: { permanent: false, status: 502 },
  // Storage and jobs
  E_STORAGE: { permanent: false, status: 503 },
  E_NOT_FOUND: { permanent: true, status: 404 },
  E_FORBIDDEN: { permanent: true, status: 403 },
  E_UNAUTHORIZED: { permanent: true, status: 401 },
  /** Too many requests from one key, or too many refused keys from one address. */
  E_RATE_LIMITED: { permanent: false, status: 429 },
  E_UNSUPPORTED_MEDIA: { permanent: true, status: 415 },
  /** The client's upload ended early: it went away, stalled past the timeout, or broke the multipart framing. */
  E_UPLOAD_ABORTED: { permanent: true, status: 400 },
  E_INVALID_JOB: { permanent: true, status: 400 },
  /** An Idempotency-Key sent again with a different request (another contract or document). */
  E_IDEMPOTENCY_KEY_REUSED: { permanent: true, status: 422 },
  // HTTP requests and e-contracts
  /** A request body or parameter the route cannot take (fastify validation, a missing consent). */
  E_INVALID_REQUEST: { permanent: true, status: 400 },
  /** A contract signer whose order number has not come yet. */
  E_NOT_YOUR_TURN: { permanent: true, status: 409 },
  /** A wrong OTP, access code, PIN or signing-service OTP; counted against the signer's attempts. */
  E_AUTH_FAILED: { permanent: true, status: 401 },
  /** A contract signer locked after too many failed attempts. */
  E_LOCKED: { permanent: true, status: 423 },
  /** The contract is completed, declined, voided or expired: nothing can change it any more. */
  E_CONTRACT_CLOSED: { permanent: true, status: 409 },
  /** The contract is a draft: its signer links work once the owner sends it (`POST /v1/contracts/:id/send`). */
  E_CONTRACT_NOT_SENT: { permanent: true, status: 409 },
  /**
   * Redis (the job queue) unreachable, refusing commands or silent past the command timeout: the
   * request was not carried out (nothing was enqueued) and may be sent again.
   */
  E_UNAVAILABLE: { permanent: false, status: 503 },
  /** Waited for a job's outcome longer than asked; the job itself carries on. */
  E_TIMEOUT: { permanent: false, status: 504 },
  // Webhook receiver unreachable, timed out or answered non-2xx (services/notifier retries it)
  E_WEBHOOK: { permanent: false, status: 502 },
  /**
   * A mail or SMS could not be handed to its server or gateway (unreachable, timed out, 4xx/5xx).
   * Retryable by default; a recipient the server refuses for good is raised as permanent.
   */
  E_NOTIFY_FAILED: { permanent: false, status: 502 },
  E_VERIFY: { permanent: true, status: 500 },
  E_INTERNAL: { permanent: false, status: 500 },
} as const satisfies Record<string, { permanent: boolean; status: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface EsignErrorOptions {
  cause?: unknown;
  /** Overrides the code's default, e.g. a 4xx answer that is known to be transient. */
  permanent?: boolean;
  /** Seconds the caller should wait before trying again (429/503 Retry-After). */
  retryAfter?: number;
}

export class EsignError extends Error {
  readonly code: ErrorCode;
  readonly permanent: boolean;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: EsignErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EsignError";
    this.code = code;
    this.permanent = options.permanent ?? ERROR_CODES[code].permanent;
    this.retryAfter = options.retryAfter;
  }

  /** The HTTP status an API answers with when this error reaches a client. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

export function isEsignError(error: unknown): error is EsignError {
  return error instanceof EsignError;
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}
