import type { Job, Worker } from "bullmq";
import type { Redis } from "ioredis";

/** The pause after a first put-back; it doubles with each further one in a row. */
const FIRST_PAUSE_MS = 250;
/**
 * The longest pause: how late a worker that saw only jobs it cannot sign comes back to fetch, so
 * how long a job of its own that arrives meanwhile may wait for it.
 */
const MAX_PAUSE_MS = 10_000;

/**
 * Hands back the jobs of one queue that name a store this worker lacks, without competing with
 * the workers that have the store (docs/decisions.md, "A worker that lacks a job's store"):
 *
 * - The worker stops fetching from the queue before the job goes back. BullMQ fetches the next
 *   job right after a DelayedError, in the same script that promotes the due delayed jobs, so an
 *   unpaused worker takes each job back the moment it is due, faster than a worker that signs it.
 *   The pause doubles with each put-back in a row (0.25 s up to 10 s, with jitter so replicas do
 *   not come back in step) and resets at the first job this worker can sign.
 * - The job is due at once: the next fetch of any worker promotes it to the back of the waiting
 *   line, like a job just submitted. It neither waits for a time that grows with each put-back nor
 *   keeps its place at the front, where it would block the line for workers that lack its store.
 */
export class ForeignJobs {
  private putBacksInRow = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly worker: Worker,
    private readonly redis: Redis,
  ) {}

  /** The worker took a job it can sign: it is not seeing only foreign jobs any more. */
  served(): void {
    this.putBacksInRow = 0;
  }

  /** Call with the job's lock token, then throw DelayedError so BullMQ leaves the job alone. */
  async putBack(job: Job, token: string | undefined): Promise<void> {
    this.putBacksInRow += 1;
    await this.worker.pause(true);
    this.scheduleResume();
    // Not an attempt: BullMQ counted this start (attemptsStarted), and the job reports it.
    await this.redis.hincrby(this.worker.toKey(job.id!), "ats", -1);
    await job.moveToDelayed(Date.now(), token);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.resumeTimer);
  }

  private scheduleResume(): void {
    if (this.resumeTimer || this.closed) return;
    const pauseMs = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (this.putBacksInRow - 1));
    this.resumeTimer = setTimeout(
      () => {
        this.resumeTimer = undefined;
        if (!this.closed) this.worker.resume();
      },
      pauseMs * (0.5 + Math.random() / 2),
    );
  }
}
