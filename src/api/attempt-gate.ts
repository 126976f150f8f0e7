// One login attempt at a time per key (a client, a user name), and a growing wait before
// each attempt once the key keeps failing. An attempt that finds its key busy is refused
// at once (the caller answers 429) instead of queueing: parallel guesses from one client
// are then neither checked nor slowed together, and the wait each attempt serves is read
// after the previous attempt's outcome is counted. A gate may let attempts run side by
// side while its free failures last, attempts in flight counted as failures.

export interface GatePolicy {
  /** Failures in a row allowed before the waits start. */
  freeFailures: number;
  /** The first wait; it doubles with each further failure up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures older than this are forgotten. */
  memoryMs: number;
  /** Keys remembered at most; the oldest are forgotten first. */
  maxEntries: number;
  /** Attempts side by side while failures plus attempts in flight stay below freeFailures. */
  parallelWhileFree?: boolean;
}

interface Entry {
  failures: number;
  last: number;
  /** Attempts in flight. */
  pending: number;
}

export class AttemptGate {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly policy: GatePolicy) {}

  /**
   * Takes `key`'s slot: the ms to wait before checking the attempt, or undefined when an
   * attempt of `key` is already in flight. leave() must follow a successful enter().
   */
  enter(key: string, now = Date.now()): number | undefined {
    const entry =
      this.fresh(key, now) ?? this.add(key, { failures: 0, last: now, pending: 0 }, now);
    if (entry.pending > 0 && !this.sideBySide(entry)) return undefined;
    entry.pending++;
    return this.delay(entry.failures);
  }

  /** Frees `key`'s slot; the outcome (if any) counts: a failure, or a success that resets. */
  leave(key: string, outcome?: 'ok' | 'failed', now = Date.now()): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.pending = Math.max(0, entry.pending - 1);
    if (outcome === 'ok') this.reset(key);
    else if (outcome === 'failed') this.countFailure(entry, now);
  }

  /** Counts a failure of `key` that did not take its slot; returns its failures in a row. */
  fail(key: string, now = Date.now()): number {
    const entry = this.fresh(key, now);
    if (!entry) return this.add(key, { failures: 1, last: now, pending: 0 }, now).failures;
    return this.countFailure(entry, now);
  }

  /** Failures of `key` in a row (0 when forgotten). */
  failures(key: string, now = Date.now()): number {
    return this.fresh(key, now)?.failures ?? 0;
  }

  /** Forgets `key`'s failures (a success); an attempt in flight keeps its slot. */
  reset(key: string): void {
    const entry = this.entries.get(key);
    if (entry?.pending) entry.failures = 0;
    else this.entries.delete(key);
  }

  private sideBySide(entry: Entry): boolean {
    return (
      !!this.policy.parallelWhileFree && entry.failures + entry.pending < this.policy.freeFailures
    );
  }

  private delay(failures: number): number {
    const { freeFailures, baseDelayMs, maxDelayMs } = this.policy;
    if (failures < freeFailures) return 0;
    return Math.min(baseDelayMs * 2 ** (failures - freeFailures), maxDelayMs);
  }

  private countFailure(entry: Entry, now: number): number {
    entry.failures++;
    entry.last = now;
    return entry.failures;
  }

  /** `key`'s entry, its failures forgotten when they are old. */
  private fresh(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && !entry.pending && now - entry.last > this.policy.memoryMs) {
      this.entries.delete(key);
      return undefined;
    }
    if (entry && now - entry.last > this.policy.memoryMs) entry.failures = 0;
    return entry;
  }

  private add(key: string, entry: Entry, now: number): Entry {
    if (this.entries.size >= this.policy.maxEntries) this.prune(now);
    this.entries.set(key, entry);
    return entry;
  }

  private prune(now: number): void {
    for (const [key, e] of this.entries) {
      if (!e.pending && now - e.last > this.policy.memoryMs) this.entries.delete(key);
    }
    // Still full of fresh entries: forget the oldest idle one rather than grow unbounded.
    for (const [key, e] of this.entries) {
      if (this.entries.size < this.policy.maxEntries) break;
      if (!e.pending) this.entries.delete(key);
    }
  }
}
