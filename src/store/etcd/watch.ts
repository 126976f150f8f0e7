// The watch that keeps a node's view current: it lists the store's keys at one revision,
// then follows every change after it, losing nothing and repeating nothing across
// connection drops. etcd3 re-creates a watch after a drop from the revision after the
// last response's header — which, while etcd is still catching a watcher up, is past
// changes not yet sent. So the resume point is ours: the revision after the last change
// handed on. A change at or below it is skipped, and when etcd cancels the watch because
// that revision was compacted, the keys are listed again and handed on as a resync before
// changes continue after it.
// Tombstone puts become deletes; etcd's own deletes of tombstones (maintenance) are not
// changes and are dropped (their revision still counts as seen); its deletes of live keys
// (a lease ended) are deletes. Telling the two apart takes the previous value, which the
// watch asks etcd to send (prev_kv).
import type { IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../errors';
import { DEFAULT_RETRY, retryConflicts } from '../tx-buffer';
import { isTombstone, type EtcdIo } from './client';
import { toStoreError } from './errors';

const RESYNC_RETRY_MS = { first: 200, max: 5000 };

/** A live key as etcd holds it: its value's text (JSON unless someone else wrote it). */
export interface KvRecord {
  key: string;
  raw: string;
  /** etcd's mod_revision: the revision of the key's last change. */
  mod: number;
  /** The lease the key is tied to ('0': none). */
  lease: string;
}

export type KvEvent =
  { type: 'put'; record: KvRecord } | { type: 'delete'; key: string; revision: number };

/** Where the watch hands what it sees, in revision order. */
export interface WatchSink {
  /** Every live key at `revision`: first, and again when the history needed was compacted. */
  resync(records: KvRecord[], revision: number): void;
  /** One response's changes; `revision` is the highest one it covered (skipped ones too). */
  changes(events: KvEvent[], revision: number): void;
  /** The stream to etcd is up, or down (with what cut it). */
  connection(connected: boolean, err?: Error): void;
}

export class EtcdKvWatch {
  private watcher: Watcher | undefined;
  /** Every change up to this revision has been handed on. */
  private delivered = 0;
  private stopped = false;
  private retryMs = RESYNC_RETRY_MS.first;

  constructor(
    private readonly io: EtcdIo,
    private readonly sink: WatchSink,
    private readonly log: Logger | undefined,
  ) {}

  /** Resolves once the keys are listed and etcd has accepted the watch after them. */
  async start(): Promise<void> {
    await this.resync();
    await this.attach();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) await withTimeout(watcher.cancel(), this.io.timeoutMs).catch(() => undefined);
  }

  private attach(): Promise<void> {
    const range = this.io.dataRange('');
    const builder = this.io.client.watch().inRange({ start: range.key, end: range.range_end });
    builder.withPreviousKV();
    builder.startRevision(String(this.delivered + 1));
    const watcher = builder.watcher();
    this.watcher = watcher;
    watcher.on('data', (res) => this.onData(watcher, res));
    watcher.on('disconnected', (err: Error) => {
      if (this.stopped || watcher !== this.watcher) return;
      // etcd3 reconnects by itself; from our resume point, not its own.
      watcher.request.start_revision = this.delivered + 1;
      this.sink.connection(false, err);
    });
    return new Promise<void>((resolve, reject) => {
      let connected = false;
      const what = 'watch of the store';
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
      watcher.on('connected', () => {
        if (!this.stopped && watcher === this.watcher) this.sink.connection(true);
        if (connected) return;
        connected = true;
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private onData(watcher: Watcher, res: IWatchResponse): void {
    if (this.stopped || watcher !== this.watcher || res.events.length === 0) return;
    // One response carries whole revisions; anything at or below the last one handed on
    // came before a drop.
    const floor = this.delivered;
    const events: KvEvent[] = [];
    for (const event of res.events) {
      const revision = Number(event.kv.mod_revision);
      if (revision <= floor) continue;
      const change = this.toEvent(String(event.type), event.kv, event.prev_kv, revision);
      if (change) events.push(change);
      this.delivered = Math.max(this.delivered, revision);
    }
    if (this.delivered > floor) this.sink.changes(events, this.delivered);
  }

  private toEvent(
    type: string,
    kv: IKeyValue,
    prev: IKeyValue | undefined,
    revision: number,
  ): KvEvent | undefined {
    const key = this.io.userKey(kv.key);
    if (type.toLowerCase() === 'delete') {
      if (prev && isTombstone(prev)) return undefined; // maintenance removed a tombstone
      return { type: 'delete', key, revision };
    }
    if (isTombstone(kv)) return { type: 'delete', key, revision };
    return { type: 'put', record: toRecord(this.io, kv) };
  }

  /** etcd ended the watch (history compacted, permission withdrawn): resync, then go on. */
  private onCanceled(watcher: Watcher, err: Error): void {
    if (this.stopped || watcher !== this.watcher) return;
    this.watcher = undefined;
    this.sink.connection(false, err);
    this.log?.warn({ err }, 'store watch canceled by etcd; resyncing');
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
        this.sink.connection(false, err as Error);
        await new Promise((resolve) => setTimeout(resolve, this.retryMs));
        this.retryMs = Math.min(RESYNC_RETRY_MS.max, this.retryMs * 2);
      }
    }
  }

  private async resync(): Promise<void> {
    const what = 'list of the store';
    const { kvs, revision } = await retryConflicts(DEFAULT_RETRY, () =>
      this.io.call(what, false, (o) =>
        this.io.rangeAll(this.io.dataRange(''), (req) => this.io.client.kv.range(req, o)),
      ),
    );
    if (this.stopped) return;
    const records = kvs.filter((kv) => !isTombstone(kv)).map((kv) => toRecord(this.io, kv));
    this.sink.resync(records, revision);
    this.delivered = revision;
  }
}

function toRecord(io: EtcdIo, kv: IKeyValue): KvRecord {
  return {
    key: io.userKey(kv.key),
    raw: kv.value.toString('utf8'),
    mod: Number(kv.mod_revision),
    lease: kv.lease === '' ? '0' : String(kv.lease),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const timeout = new Promise<undefined>((resolve) => {
    setTimeout(() => resolve(undefined), ms).unref();
  });
  return Promise.race([promise, timeout]);
}
