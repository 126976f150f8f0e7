// A watch on a prefix that loses nothing and repeats nothing across connection drops.
// etcd3 re-creates a watch after a drop from the revision after the last response's
// header — which, while etcd is still catching a watcher up, is past changes not yet
// sent. So the resume point is ours: the revision after the last change delivered. A
// change is delivered at most once (a revision at or below the last one is skipped), and
// when etcd cancels the watch because that revision was compacted, the prefix is listed
// again and handed over as a resync before changes continue after it.
// Tombstone puts become deletes; etcd's own deletes of tombstones (maintenance) are not
// changes and are dropped; its deletes of live keys (a lease ended) are deletes. Telling
// the two apart takes the previous value, which the watch asks etcd to send (prev_kv).
import type { IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { StoreChange, WatchOptions } from '../async-store';
import { StoreUnavailableError } from '../errors';
import type { Json } from '../store';
import { DEFAULT_RETRY, retryConflicts } from '../tx-buffer';
import { isTombstone, type EtcdIo } from './client';
import { toStoreError } from './errors';

const RESYNC_RETRY_MS = { first: 200, max: 5000 };

export class EtcdPrefixWatch {
  private watcher: Watcher | undefined;
  /** Every change up to this revision has been delivered (undefined: not yet connected). */
  private delivered: number | undefined;
  private stopped = false;
  private retryMs = RESYNC_RETRY_MS.first;

  constructor(
    private readonly io: EtcdIo,
    private readonly prefix: string,
    private readonly fn: (change: StoreChange) => void,
    private readonly options: WatchOptions,
    private readonly log: Logger | undefined,
  ) {
    if (options.fromRevision !== undefined) this.delivered = options.fromRevision - 1;
  }

  /** Resolves once etcd has accepted the watch (and delivered the initial resync, if asked). */
  async start(): Promise<void> {
    if (this.options.initialResync) await this.resync();
    await this.attach();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) await withTimeout(watcher.cancel(), this.io.timeoutMs).catch(() => undefined);
  }

  private attach(): Promise<void> {
    const range = this.io.dataRange(this.prefix);
    const builder = this.io.client.watch().inRange({ start: range.key, end: range.range_end });
    builder.withPreviousKV();
    if (this.delivered !== undefined) builder.startRevision(String(this.delivered + 1));
    const watcher = builder.watcher();
    this.watcher = watcher;
    watcher.on('data', (res) => this.onData(watcher, res));
    watcher.on('disconnected', () => {
      // etcd3 reconnects by itself; from our resume point, not its own.
      if (this.delivered !== undefined) watcher.request.start_revision = this.delivered + 1;
    });
    return new Promise<void>((resolve, reject) => {
      let connected = false;
      const what = `watch of store prefix ${JSON.stringify(this.prefix)}`;
      const timer = setTimeout(() => {
        void watcher.cancel().catch(() => undefined);
        reject(
          new StoreUnavailableError(
            `${this.io.where}: ${what}: etcd did not accept it within ${this.io.timeoutMs} ms`,
          ),
        );
      }, this.io.timeoutMs);
      watcher.on('error', (err) => {
        if (connected) return this.onCanceled(watcher, err);
        // Refused outright (permission denied): the caller hears it.
        clearTimeout(timer);
        if (watcher === this.watcher) this.watcher = undefined;
        reject(toStoreError(err, { where: this.io.where, what, write: false, timeoutMs: 0 }));
      });
      watcher.once('connected', (res: IWatchResponse) => {
        connected = true;
        clearTimeout(timer);
        // No start revision: the watch begins after the revision etcd was at.
        this.delivered ??= Number(res.header.revision);
        resolve();
      });
    });
  }

  private onData(watcher: Watcher, res: IWatchResponse): void {
    if (this.stopped || watcher !== this.watcher) return;
    // One response carries whole revisions; anything at or below the last delivered one
    // was delivered before a drop.
    const floor = this.delivered ?? 0;
    for (const event of res.events) {
      const revision = Number(event.kv.mod_revision);
      if (revision <= floor) continue;
      let change: StoreChange | undefined;
      try {
        change = this.toChange(event.type, event.kv, event.prev_kv, revision);
      } catch (err) {
        // A value someone else wrote that is not JSON: reported, not delivered.
        this.options.onError?.(err as Error);
        this.log?.error({ err }, 'store watch skipped a change it cannot read');
      }
      if (change) this.deliver(change);
      this.delivered = Math.max(this.delivered ?? 0, revision);
    }
  }

  private toChange(
    type: string,
    kv: IKeyValue,
    prev: IKeyValue | undefined,
    revision: number,
  ): StoreChange | undefined {
    const key = this.io.userKey(kv.key);
    if (String(type).toLowerCase() === 'delete') {
      if (prev && isTombstone(prev)) return undefined; // maintenance removed a tombstone
      return { type: 'delete', key, revision };
    }
    if (isTombstone(kv)) return { type: 'delete', key, revision };
    const entry = this.io.toEntry<Json>(kv)!;
    return { type: 'put', key, value: entry.value, revision };
  }

  /** etcd ended the watch (history compacted, permission withdrawn): resync, then go on. */
  private onCanceled(watcher: Watcher, err: Error): void {
    if (this.stopped || watcher !== this.watcher) return;
    this.watcher = undefined;
    this.log?.warn({ err, prefix: this.prefix }, 'store watch canceled by etcd; resyncing');
    void this.recover();
  }

  private async recover(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.resync();
        if (this.stopped) return;
        await this.attach();
        this.retryMs = RESYNC_RETRY_MS.first;
        return;
      } catch (err) {
        this.options.onError?.(err as Error);
        await new Promise((resolve) => setTimeout(resolve, this.retryMs));
        this.retryMs = Math.min(RESYNC_RETRY_MS.max, this.retryMs * 2);
      }
    }
  }

  private async resync(): Promise<void> {
    const what = `resync of store prefix ${JSON.stringify(this.prefix)}`;
    const { kvs, revision } = await retryConflicts(DEFAULT_RETRY, () =>
      this.io.call(what, false, (o) =>
        this.io.rangeAll(this.io.dataRange(this.prefix), (req) => this.io.client.kv.range(req, o)),
      ),
    );
    const entries = kvs.flatMap((kv) => this.io.toEntry<Json>(kv) ?? []);
    if (this.stopped) return;
    this.deliver({ type: 'resync', entries, revision });
    this.delivered = revision;
  }

  private deliver(change: StoreChange): void {
    try {
      this.fn(change);
    } catch (err) {
      // A failing watcher must not lose the changes after this one.
      this.log?.error(
        { err, storeKey: 'key' in change ? change.key : undefined },
        'store watcher threw',
      );
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const timeout = new Promise<undefined>((resolve) => {
    setTimeout(() => resolve(undefined), ms).unref();
  });
  return Promise.race([promise, timeout]);
}
