// Capped exponential backoff with jitter, for work retried until it succeeds (a key server
// down, a drives backend not up yet): each wait is a random point in the upper half of the
// current delay, which doubles up to the cap, so many nodes retrying do not march in step.
export const FIRST_RETRY_MS = 500;

export class Backoff {
  private delay: number;

  constructor(
    private readonly maxMs: number,
    private readonly firstMs = FIRST_RETRY_MS,
  ) {
    this.delay = Math.min(firstMs, maxMs);
  }

  /** The next wait in ms; the delay after it doubles (up to the cap). */
  next(): number {
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.maxMs);
    return wait / 2 + Math.random() * (wait / 2);
  }

  /** After a success: the next failure starts over from the first delay. */
  reset(): void {
    this.delay = Math.min(this.firstMs, this.maxMs);
  }
}
