// Retry a start-up step until it succeeds, without holding up the boot: the first attempt
// is awaited (so a healthy node is fully up when start returns), later ones run on a
// capped, jittered exponential backoff until they succeed or stop() is called.
import type { Logger } from 'pino';
import { Backoff } from '../cluster/backoff';

export interface BackgroundRetry {
  /** Settles after the first attempt, successful or not; never rejects. */
  firstAttempt: Promise<void>;
  stop(): void;
}

export function retryInBackground(
  step: () => Promise<void>,
  maxDelayMs: number,
  logger?: Logger,
): BackgroundRetry {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const backoff = new Backoff(maxDelayMs);
  let wait = backoff.next();
  const attempt = async (): Promise<boolean> => {
    try {
      await step();
      return true;
    } catch (err) {
      logger?.warn(
        { err: (err as Error).message, retryInMs: Math.round(wait) },
        'start-up step failed; retrying',
      );
      return false;
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(async () => {
      if (stopped) return;
      wait = backoff.next();
      if (await attempt()) return;
      schedule();
    }, wait);
    timer.unref();
  };
  const firstAttempt = attempt().then((ok) => {
    if (!ok) schedule();
  });
  return {
    firstAttempt,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
