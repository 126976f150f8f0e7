// Watches of the asynchronous SQLite store. SQLite keeps no history of its own, so the
// store keeps its recent changes in memory: a watch from a revision replays them, as
// etcd's does from its history. Where that history does not reach (before this store was
// opened, past what it keeps, or across a write by another connection to the file), the
// watcher gets a resync — the prefix's entries now — instead of silently missing changes.
import type { Logger } from 'pino';
import type { StoreChange, WatchOptions } from './async-store';
import type { StoreEntry } from './store';

type KeyChange = Exclude<StoreChange, { type: 'resync' }>;

interface Watcher {
  prefix: string;
  fn: (change: StoreChange) => void;
  /** The revision up to which this watcher has everything. */
  seen: number;
}

interface Delivery {
  watcher: Watcher;
  change: StoreChange;
}

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private history: { revision: number; at: number; changes: KeyChange[] }[] = [];
  private historySize = 0;
  /** Watches from below this revision need a resync. */
  private firstKept: number;
  /** The last revision this hub knows everything about. */
  private known: number;
  private readonly queue: Delivery[] = [];
  private delivering = false;

  constructor(
    revision: number,
    private readonly listNow: (prefix: string) => StoreEntry[],
    private readonly maxHistory: number,
    private readonly log: Logger | undefined,
  ) {
    this.known = revision;
    this.firstKept = revision + 1;
  }

  get compactedRevision(): number {
    return this.firstKept;
  }

  /**
   * The file is at `revision`. Called inside the write transaction before our own writes,
   * or before a watch starts: a revision beyond what we know is someone else's write,
   * which we cannot replay, so every watcher is resynced at it.
   */
  noticeRevision(revision: number): void {
    if (revision <= this.known) return;
    this.known = revision;
    this.forget(revision);
    for (const w of this.watchers) this.resync(w);
  }

  /** Our own commit at `revision` (after noticeRevision(revision - 1)). */
  publish(revision: number, changes: KeyChange[]): void {
    this.known = revision;
    if (changes.length === 0) return;
    this.history.push({ revision, at: Date.now(), changes });
    this.historySize += changes.length;
    while (this.historySize > this.maxHistory && this.history.length > 1) {
      const dropped = this.history.shift()!;
      this.historySize -= dropped.changes.length;
      this.firstKept = dropped.revision + 1;
    }
    for (const w of this.watchers) this.offer(w, revision, changes);
  }

  watch(prefix: string, fn: (change: StoreChange) => void, options: WatchOptions): () => void {
    const from = options.fromRevision ?? this.known + 1;
    const watcher: Watcher = { prefix, fn, seen: from - 1 };
    this.watchers.add(watcher);
    if (options.initialResync || from < this.firstKept) {
      this.resync(watcher);
    } else {
      for (const h of this.history) this.offer(watcher, h.revision, h.changes);
    }
    return () => {
      this.watchers.delete(watcher);
    };
  }

  /** Drop history older than `retainMs`; returns the revision watches are exact from. */
  compact(retainMs: number): number {
    const cutoff = Date.now() - retainMs;
    const keep = this.history.findIndex((h) => h.at > cutoff);
    this.forget(keep === -1 ? this.known : this.history[keep].revision - 1);
    return this.firstKept;
  }

  /** Hand queued changes to their watchers, in order (after the commit that made them). */
  flush(): void {
    // A watcher that writes queues its changes behind these: every watcher sees order.
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let d = this.queue.shift(); d; d = this.queue.shift()) {
        if (!this.watchers.has(d.watcher)) continue;
        try {
          d.watcher.fn(d.change);
        } catch (err) {
          // A failing watcher must not undo a committed change or starve the others.
          this.log?.error({ err }, 'store watcher threw');
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  close(): void {
    this.watchers.clear();
    this.queue.length = 0;
  }

  private forget(upTo: number): void {
    this.history = this.history.filter((h) => h.revision > upTo);
    this.historySize = this.history.reduce((n, h) => n + h.changes.length, 0);
    this.firstKept = Math.max(this.firstKept, upTo + 1);
  }

  /** One commit's changes to a watcher that has not seen them. */
  private offer(w: Watcher, revision: number, changes: KeyChange[]): void {
    if (revision <= w.seen) return;
    for (const change of changes) {
      if (change.key.startsWith(w.prefix)) this.queue.push({ watcher: w, change });
    }
    w.seen = revision;
  }

  private resync(w: Watcher): void {
    const entries = this.listNow(w.prefix);
    this.queue.push({ watcher: w, change: { type: 'resync', entries, revision: this.known } });
    w.seen = this.known;
  }
}
