// This node's view of the store on etcd: every key under the cluster's prefix, in memory,
// as of one revision (the informer pattern). The watch (watch.ts) loads it with one list
// and keeps it current; each revision's changes are applied together, then handed to the
// store's watchers, so a watcher reading the view sees the state its change made. Reads
// never leave the process. Writers wait here until the view holds what they committed.
import type { Logger } from 'pino';
import type { ChangeFanout } from '../change-fanout';
import { StoreError } from '../errors';
import type { Json, StoreChange, StoreEntry } from '../store';
import { SortedKeys } from './sorted-keys';
import type { KvEvent, KvRecord, WatchSink } from './watch';

/** A key as the view holds it; its value is parsed on each read, so callers get copies. */
export interface HeldKey {
  raw: string;
  mod: number;
  lease: string;
}

export interface ConnectionState {
  connected: boolean;
  /** When the watch last lost etcd (0 while connected). */
  downSince: number;
  /** What cut it, or what the last failed attempt to reach etcd said. */
  lastError: string | undefined;
}

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class EtcdView implements WatchSink {
  private readonly held = new Map<string, HeldKey>();
  private readonly index = new SortedKeys();
  private waiters: Waiter[] = [];
  private revisionNow = 0;
  readonly link: ConnectionState = {
    connected: false,
    downSince: Date.now(),
    lastError: undefined,
  };

  constructor(
    private readonly where: string,
    private readonly fanout: ChangeFanout,
    private readonly log: Logger | undefined,
  ) {}

  /** Every change up to this revision is in the view. */
  get revision(): number {
    return this.revisionNow;
  }

  get size(): number {
    return this.held.size;
  }

  get<T = Json>(key: string): StoreEntry<T> | undefined {
    const held = this.held.get(key);
    return held && { key, value: this.parse<T>(key, held.raw), revision: held.mod };
  }

  list<T = Json>(prefix: string): StoreEntry<T>[] {
    return this.index.under(prefix).map((key) => {
      const held = this.held.get(key)!;
      return { key, value: this.parse<T>(key, held.raw), revision: held.mod };
    });
  }

  /** The key as held (its revision and lease), for a transaction's compares. */
  heldKey(key: string): HeldKey | undefined {
    return this.held.get(key);
  }

  /** Keys held under `prefix`, in order, without parsing their values. */
  keysUnder(prefix: string): string[] {
    return this.index.under(prefix);
  }

  hasLeasedKey(lease: string): boolean {
    for (const held of this.held.values()) if (held.lease === lease) return true;
    return false;
  }

  // WatchSink: the watch's deliveries.

  resync(records: KvRecord[], revision: number): void {
    const before = this.held;
    const changes: StoreChange[] = [];
    const after = new Map(records.map((r) => [r.key, { raw: r.raw, mod: r.mod, lease: r.lease }]));
    if (this.fanout.size > 0) {
      // Watchers hear the difference, as the changes they missed would have told it.
      for (const [key, held] of after) {
        if (before.get(key)?.mod !== held.mod) this.pushPut(changes, key, held);
      }
      for (const key of before.keys()) {
        if (!after.has(key)) changes.push({ type: 'delete', key, revision });
      }
      changes.sort((a, b) => a.revision - b.revision);
    }
    this.held.clear();
    for (const [key, held] of after) this.held.set(key, held);
    this.index.reset([...after.keys()]);
    this.revisionNow = Math.max(this.revisionNow, revision);
    this.fanout.offer(changes);
    this.fanout.deliver();
    this.settle();
  }

  changes(events: KvEvent[], revision: number): void {
    for (let i = 0; i < events.length;) {
      const at = revisionOf(events[i]);
      const changes: StoreChange[] = [];
      for (; i < events.length && revisionOf(events[i]) === at; i++) this.apply(events[i], changes);
      this.revisionNow = Math.max(this.revisionNow, at);
      this.fanout.offer(changes);
      this.fanout.deliver();
    }
    this.revisionNow = Math.max(this.revisionNow, revision);
    this.settle();
  }

  connection(connected: boolean, err?: Error): void {
    const state = this.link;
    if (connected) {
      state.connected = true;
      state.downSince = 0;
      return;
    }
    if (state.connected || state.downSince === 0) state.downSince = Date.now();
    state.connected = false;
    if (err) state.lastError = err.message;
  }

  /**
   * Resolves once `ready()` holds of the view (checked now and after each change); fails
   * with `timedOut()` after `timeoutMs`.
   */
  waitUntil(ready: () => boolean, timeoutMs: number, timedOut: () => Error): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        ready,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(timedOut());
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the first change after `revision`, or after `ms` (whichever is first). */
  async nextChange(revision: number, ms: number): Promise<void> {
    await this.waitUntil(
      () => this.revisionNow > revision,
      ms,
      () => new Error('no change'),
    ).catch(() => undefined);
  }

  /** Fail every wait (the store is closing). */
  close(err: Error): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private apply(event: KvEvent, changes: StoreChange[]): void {
    if (event.type === 'put') {
      const { key, raw, mod, lease } = event.record;
      if (!this.held.has(key)) this.index.insert(key);
      const held = { raw, mod, lease };
      this.held.set(key, held);
      if (this.fanout.size > 0) this.pushPut(changes, key, held);
      return;
    }
    if (!this.held.delete(event.key)) return;
    this.index.remove(event.key);
    changes.push({ type: 'delete', key: event.key, revision: event.revision });
  }

  private pushPut(changes: StoreChange[], key: string, held: HeldKey): void {
    try {
      changes.push({ type: 'put', key, value: this.parse(key, held.raw), revision: held.mod });
    } catch (err) {
      // Written by someone else, not JSON: in the view (its reads fail), not told.
      this.log?.error({ err, storeKey: key }, 'store change skipped: its value is not JSON');
    }
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (!w.ready()) {
        still.push(w);
        continue;
      }
      clearTimeout(w.timer);
      w.resolve();
    }
    this.waiters = still;
  }

  private parse<T>(key: string, raw: string): T {
    try {
      return JSON.parse(raw) as T;
    } catch {
      // The parser's message would quote the value.
      throw new StoreError(`${this.where}: store key ${JSON.stringify(key)} does not hold JSON`);
    }
  }
}

function revisionOf(event: KvEvent): number {
  return event.type === 'put' ? event.record.mod : event.revision;
}
