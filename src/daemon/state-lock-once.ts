// The state lock (store/state-lock.ts), taken once per process by whoever needs it first:
// the early unlock before its first attempt, or the boot. Loaded only then (koffi).
import type { StateLock } from '../store/state-lock';

export class StateLockOnce {
  private lock: StateLock | undefined;

  constructor(private readonly stateDir: string) {}

  /** The lock, taken now if not yet; throws StateLockError when another ekmd holds it. */
  take(): StateLock {
    if (!this.lock) {
      const { acquireStateLock } =
        require('../store/state-lock') as typeof import('../store/state-lock');
      this.lock = acquireStateLock(this.stateDir);
    }
    return this.lock;
  }
}
