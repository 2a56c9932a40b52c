import { EsignError } from "@esign/errors";

/** One attempt's time budget, shared by DNS resolution, connecting, sending and the answer. */
export interface Deadline {
  signal: AbortSignal;
  timeoutMs: number;
}

export function deadlineIn(timeoutMs: number): Deadline {
  return { signal: AbortSignal.timeout(timeoutMs), timeoutMs };
}

export function timedOut(deadline: Deadline, what: string): EsignError {
  return new EsignError("E_WEBHOOK", `${what}: no answer within ${deadline.timeoutMs} ms`);
}

/**
 * Settles like `work`, or rejects when the deadline passes first. For work that cannot be
 * cancelled (dns.lookup): it finishes in the background, but the attempt stops waiting, so a
 * hung resolver cannot hold the job past its BullMQ lock.
 */
export function beforeDeadline<T>(work: Promise<T>, deadline: Deadline, what: string): Promise<T> {
  const { signal } = deadline;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(timedOut(deadline, what));
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
