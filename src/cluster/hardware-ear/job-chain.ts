// Hardware EAR's work runs one job at a time, in the order it was asked for, on one
// promise chain: recovery's clean-up never sees another job's keys half recorded. After
// every job (failed or not) a hook runs (the faults are recomputed there); then, while work
// is unfinished (a key server or drive out of reach), a retry is scheduled with capped
// backoff, and the backoff starts over once nothing is left.
import type { Logger } from 'pino';
import { Backoff } from '../backoff';
import { settleChain } from '../settle';

export interface JobChainHooks {
  /** After every job, failed or not; the next job waits for it. */
  afterEachJob(): Promise<void>;
  /** Whether work remains that a retry should take up. */
  hasUnfinishedWork(): boolean;
  /** Queues the jobs that take unfinished work up again. */
  retry(): void;
}

export class JobChain {
  private tail: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private closed = false;

  constructor(
    private readonly hooks: JobChainHooks,
    retryMaxDelayMs: number,
    private readonly logger?: Logger,
  ) {
    this.backoff = new Backoff(retryMaxDelayMs);
  }

  /** `work` after every job queued before it; a failure is logged, never thrown. */
  enqueue(work: () => Promise<void>): void {
    this.tail = this.tail
      .then(work)
      .catch((err) => {
        this.logger?.warn({ err: (err as Error).message }, 'hardware EAR work failed');
      })
      .then(() => this.hooks.afterEachJob())
      .then(() => this.retryIfUnfinished());
  }

  /** `work` queued like enqueue's, but its result (or error) goes to the caller. */
  enqueueForResult<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.enqueue(() => work().then(resolve, reject)));
  }

  /** Resolves when the work queued so far has settled (a scheduled retry is not waited for). */
  async idle(): Promise<void> {
    await settleChain(() => this.tail);
  }

  /** Stops retrying and waits for work in progress. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.idle();
  }

  private retryIfUnfinished(): void {
    const unfinished = this.hooks.hasUnfinishedWork();
    clearTimeout(this.retryTimer);
    if (!unfinished || this.closed) {
      this.backoff.reset();
      return;
    }
    const delay = this.backoff.next();
    this.logger?.info({ retryInMs: Math.round(delay) }, 'hardware EAR work unfinished');
    this.retryTimer = setTimeout(() => this.hooks.retry(), delay).unref();
  }
}
