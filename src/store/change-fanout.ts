// Hands the changes a store's view has just taken in to the watchers of their prefixes, in
// revision order. A watcher that writes to the store queues its own changes behind the ones
// being delivered, so every watcher sees every change in commit order; a watcher that throws
// is logged and never undoes a commit or starves the others.
import type { Logger } from 'pino';
import type { StoreChange } from './store';

interface Watcher {
  prefix: string;
  fn: (change: StoreChange) => void;
}

export class ChangeFanout {
  private readonly watchers = new Set<Watcher>();
  private readonly queue: { watcher: Watcher; change: StoreChange }[] = [];
  private delivering = false;

  constructor(private readonly log: Logger | undefined) {}

  get size(): number {
    return this.watchers.size;
  }

  watch(prefix: string, fn: (change: StoreChange) => void): () => void {
    const watcher = { prefix, fn };
    this.watchers.add(watcher);
    return () => {
      this.watchers.delete(watcher);
    };
  }

  /** Queue one commit's changes; deliver() hands them out. */
  offer(changes: readonly StoreChange[]): void {
    if (this.watchers.size === 0) return;
    for (const change of changes) {
      for (const watcher of this.watchers) {
        if (change.key.startsWith(watcher.prefix)) this.queue.push({ watcher, change });
      }
    }
  }

  deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let d = this.queue.shift(); d; d = this.queue.shift()) {
        if (!this.watchers.has(d.watcher)) continue;
        try {
          d.watcher.fn(d.change);
        } catch (err) {
          this.log?.error({ err, storeKey: d.change.key }, 'store watcher threw');
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
}
