// Whether this node may write, and how its view stands. A write is refused at once while
// the view's watch has been cut off from etcd longer than a bound: its commit could not
// be seen here, and the node would act on a view it cannot refresh. Reads go on serving
// the last view. Every wait for the view is bounded by the store's deadline, so a write
// fails in bounded time whatever etcd does, with an error naming the endpoints.
import { StoreUnavailableError } from '../errors';
import type { EtcdIo } from './client';
import type { EtcdView } from './view';

/** What viewHealth() reports (for the daemon's ensemble faults). */
export interface ViewHealth {
  /** The watch that keeps the view current reaches etcd. */
  connected: boolean;
  /** How long it has not (0 while connected). */
  disconnectedMs: number;
  /** The revision the view holds everything up to. */
  revision: number;
  /** Keys in the view. */
  keys: number;
  /** Writes this node committed that its view does not hold yet. */
  writesAwaitingView: number;
  /** How long the oldest of them has waited (0 when none): the view's lag behind etcd. */
  lagMs: number;
  /** The last write failed because etcd could not commit it (cleared by one that works). */
  commitFailing: boolean;
  /** What the last failure said: the watch's, or the last write's. */
  lastError: string | undefined;
}

export class WriteGate {
  private readonly awaiting = new Map<number, number>();
  private nextWait = 1;
  private commitError: string | undefined;

  constructor(
    private readonly io: EtcdIo,
    private readonly view: EtcdView,
    private readonly maxDisconnectedMs: number,
  ) {}

  /** Refuse a write while the watch has been down longer than the bound. */
  checkConnected(what: string): void {
    const { connected, downSince, lastError } = this.view.link;
    if (connected) return;
    const down = Date.now() - downSince;
    if (down <= this.maxDisconnectedMs) return;
    throw new StoreUnavailableError(
      `${this.io.where}: ${what}: this node's view has been cut off from etcd for ${down} ms` +
        `${lastError ? ` (${lastError})` : ''}; writes are refused until it is back; ` +
        'nothing written',
    );
  }

  /** Pass `call`'s outcome on, noting whether etcd could commit. */
  async track<T>(call: Promise<T>): Promise<T> {
    try {
      const result = await call;
      this.commitError = undefined;
      return result;
    } catch (err) {
      if (err instanceof StoreUnavailableError) this.commitError = err.message;
      throw err;
    }
  }

  /** Resolves once the view holds `revision`, which this node's write made. */
  async viewHolds(revision: number, what: string): Promise<void> {
    if (this.view.revision >= revision) return;
    const id = this.nextWait++;
    this.awaiting.set(id, Date.now());
    try {
      await this.view.waitUntil(
        () => this.view.revision >= revision,
        this.io.timeoutMs,
        () =>
          new StoreUnavailableError(
            `${this.io.where}: ${what}: applied at revision ${revision}, but this node's view ` +
              `did not hold it within ${this.io.timeoutMs} ms (${this.watchState()})`,
            true,
          ),
      );
    } finally {
      this.awaiting.delete(id);
    }
  }

  /** Resolves once the view holds what made a commit fail (`ready` says when). */
  async viewCatchesUp(ready: () => boolean, what: string): Promise<void> {
    await this.view.waitUntil(
      ready,
      this.io.timeoutMs,
      () =>
        new StoreUnavailableError(
          `${this.io.where}: ${what}: this node's view did not catch up with etcd within ` +
            `${this.io.timeoutMs} ms (${this.watchState()}); nothing written`,
        ),
    );
  }

  /** Resolves once the view's `key` is at least as new as etcd's at `revision`. */
  async viewHoldsKey(key: string, mod: number | undefined, revision: number, what: string) {
    // Present in etcd: the view needs its last change. Missing: the view must not hold it
    // from before (a lease ended, or maintenance removed the tombstone).
    if (mod !== undefined) return this.viewCatchesUp(() => this.view.revision >= mod, what);
    return this.viewCatchesUp(() => (this.view.heldKey(key)?.mod ?? Infinity) > revision, what);
  }

  health(): ViewHealth {
    const { connected, downSince, lastError } = this.view.link;
    const now = Date.now();
    const oldest = Math.min(now, ...this.awaiting.values());
    return {
      connected,
      disconnectedMs: connected ? 0 : now - downSince,
      revision: this.view.revision,
      keys: this.view.size,
      writesAwaitingView: this.awaiting.size,
      lagMs: now - oldest,
      commitFailing: this.commitError !== undefined,
      lastError: this.commitError ?? lastError,
    };
  }

  private watchState(): string {
    const { connected, downSince, lastError } = this.view.link;
    if (connected) return 'its watch is connected but behind';
    return `its watch has been cut off for ${Date.now() - downSince} ms${lastError ? `: ${lastError}` : ''}`;
  }
}
