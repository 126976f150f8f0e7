// What the backends share about a transaction attempt: its buffered writes (checked when
// made, against the same limits on every backend), how its reads see them, the refusal of
// an asynchronous function, and the retry of whole attempts on conflict.
import { StoreConflictError, StoreError } from './errors';
import { compareKeys } from './key-order';
import { checkKey, encodeBoundedValue } from './keys';
import { MAX_TX_BYTES, MAX_TX_WRITES, MAX_VALUE_BYTES, type Json, type StoreEntry } from './store';

/** Thrown inside an attempt when what it read has changed: the attempt runs again. */
export class TxConflict extends Error {
  override name = 'TxConflict';
}

/**
 * A transaction's function must be synchronous: it runs against one state of the view, and
 * an await would let that state move under it. A promise is refused, and its own outcome
 * ignored (nothing it does after the refusal can commit).
 */
export function refuseAsync(result: unknown): void {
  if (typeof (result as { then?: unknown } | null)?.then !== 'function') return;
  (result as Promise<unknown>).then(undefined, () => undefined);
  throw new StoreError('a store transaction must be synchronous (it returned a promise)');
}

export class TxWrites {
  /** key -> encoded value, or undefined for a delete. */
  private readonly writes = new Map<string, string | undefined>();
  private bytes = 0;

  put(key: string, value: Json): void {
    checkKey(key);
    this.set(key, encodeBoundedValue(key, value, MAX_VALUE_BYTES));
  }

  delete(key: string): void {
    this.set(checkKey(key), undefined);
  }

  get size(): number {
    return this.writes.size;
  }

  entries(): IterableIterator<[string, string | undefined]> {
    return this.writes.entries();
  }

  /** This attempt's own write of `key`: an entry, null when deleted, undefined if none. */
  own<T>(key: string): StoreEntry<T> | null | undefined {
    if (!this.writes.has(key)) return undefined;
    const encoded = this.writes.get(key);
    return encoded === undefined ? null : ownEntry<T>(key, encoded);
  }

  /** Stored entries under `prefix` as this attempt sees them: its own writes applied. */
  merge<T>(prefix: string, stored: StoreEntry<T>[]): StoreEntry<T>[] {
    const mine = [...this.writes.keys()].filter((k) => k.startsWith(prefix));
    if (mine.length === 0) return stored;
    const byKey = new Map(stored.map((e) => [e.key, e]));
    for (const key of mine) {
      const encoded = this.writes.get(key);
      if (encoded === undefined) byKey.delete(key);
      else byKey.set(key, ownEntry<T>(key, encoded));
    }
    return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
  }

  private set(key: string, encoded: string | undefined): void {
    const had = this.writes.has(key);
    if (!had && this.writes.size >= MAX_TX_WRITES) {
      throw new StoreError(`a store transaction writes at most ${MAX_TX_WRITES} keys`);
    }
    const cost = (v: string | undefined) => Buffer.byteLength(key) + (v ? Buffer.byteLength(v) : 0);
    const bytes = this.bytes - (had ? cost(this.writes.get(key)) : 0) + cost(encoded);
    if (bytes > MAX_TX_BYTES) {
      throw new StoreError(
        `a store transaction writes at most ${MAX_TX_BYTES} bytes of keys and values ` +
          `(store key ${JSON.stringify(key)} would take it to ${bytes})`,
      );
    }
    this.bytes = bytes;
    this.writes.set(key, encoded);
  }
}

function ownEntry<T>(key: string, encoded: string): StoreEntry<T> {
  return { key, value: JSON.parse(encoded) as T, revision: 0 };
}

export interface RetryPolicy {
  maxAttempts: number;
  /** Upper bound of the random pause before attempt n + 1 grows as 2^n ms up to this. */
  maxBackoffMs: number;
}

/** Refused: a write made while a transaction's function runs (it would not be in its tx). */
export const NESTED_WRITE = 'a store write inside a transaction: write through its tx instead';

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 20, maxBackoffMs: 100 };

/**
 * Run `attempt` until it does not end in a TxConflict, pausing a little (jittered, so
 * contending writers spread out) between attempts; then give up with StoreConflictError.
 */
export async function retryConflicts<R>(
  policy: RetryPolicy,
  attempt: () => Promise<R>,
): Promise<R> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof TxConflict)) throw err;
      if (n >= policy.maxAttempts) {
        throw new StoreConflictError(
          `store transaction gave up after ${n} attempts: ${err.message}`,
        );
      }
      const ceiling = Math.min(policy.maxBackoffMs, 2 ** n);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
