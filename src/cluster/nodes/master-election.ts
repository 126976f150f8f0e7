// The cluster master election: each active node tries to create MASTER_KEY under a lease of
// its own; the one that does is master until its lease ends (revoked at a clean stop,
// expired when the node dies or loses the store), when the key disappears and the others,
// watching it, try again. On SQLite there is one node, which wins at once.
//
// The same lease is the node's session: it also holds the node's alive key, which the
// master watches to tell that a node is offline (OfflineWatch).
//
// Holding the key is not enough to act: etcd expires a lease TTL seconds after the last
// keep-alive that reached it, while etcd3 reports a lease lost only after 2 × TTL. So the
// master refreshes its lease itself every REFRESH_MS and acts only while the last refresh
// that succeeded was sent less than TTL − STEP_DOWN_MARGIN_MS ago: cut off from etcd, it
// stops acting (onChange(false)) before its lease can have expired on the server, and
// acts again once a refresh succeeds and it still holds the key. Its writes are fenced too
// (MasterFence), so a master that stopped acting late still cannot commit.
import type { Logger } from 'pino';
import type { Json, Store, StoreLease } from '../../store/store';
import { MasterFence, type MasterTerm } from './master-fence';
import { aliveKey, MASTER_KEY, type MasterRecord } from './node-records';

/** A dead master's key lasts this long; etcd3 also reports a lease lost after 2 × TTL. */
export const MASTER_LEASE_TTL_SECONDS = 5;
/** A master stops acting this long before its lease could expire without it. */
export const STEP_DOWN_MARGIN_MS = 1_500;
const RETRY_MS = 1_000;

export class MasterElection {
  private lease: StoreLease | undefined;
  /** This node's key is nodes/master (under `lease`). */
  private holding = false;
  /** Acting as master: holding, and the lease certainly alive at etcd. */
  private leading = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  /** When the last refresh that succeeded was sent (monotonic ms). */
  private refreshedAt = 0;
  private refreshing = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly unwatch: () => void;

  private readonly logger: Logger | undefined;
  private readonly ttlSeconds: number;
  private readonly actForMs: number;
  private readonly refreshMs: number;
  /** What master jobs write through: it refuses unless this node is the acting master. */
  readonly fence: MasterFence;

  constructor(
    private readonly store: Store,
    private readonly nodeID: number,
    private readonly options: {
      logger?: Logger;
      ttlSeconds?: number;
      /** Told each time this node starts or stops acting as master. */
      onChange?: (leading: boolean) => void;
    } = {},
  ) {
    this.logger = options.logger;
    this.ttlSeconds = options.ttlSeconds ?? MASTER_LEASE_TTL_SECONDS;
    const ttlMs = this.ttlSeconds * 1000;
    // Short TTLs (tests) keep at least half the TTL as margin.
    this.actForMs = Math.max(ttlMs / 2, ttlMs - STEP_DOWN_MARGIN_MS);
    this.refreshMs = Math.min(1_000, ttlMs / 5);
    this.fence = new MasterFence(store, () => this.term());
    // A deleted key is a vacancy: every follower runs for it. Our own key deleted means our
    // lease has ended at etcd: we no longer hold it, whatever etcd3 says yet.
    this.unwatch = store.watch(MASTER_KEY, (change) => {
      if (change.key !== MASTER_KEY || change.type !== 'delete') return;
      if (this.holding) {
        this.holding = false;
        this.stopRefreshing();
        if (this.leading) this.logger?.warn('master key gone: no longer cluster master');
        this.lead(false);
      }
      this.campaign();
    });
    this.campaign();
  }

  /** Whether this node acts as master now. */
  isMaster(): boolean {
    return this.leading;
  }

  /** The term this node acts as master in; undefined while it does not. */
  term(): MasterTerm | undefined {
    if (!this.leading || !this.lease) return undefined;
    return { nodeID: this.nodeID, lease: this.lease.id };
  }

  /** Settles once the campaign in progress (if any) has run. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops campaigning; a master revokes its lease so another is elected at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    clearTimeout(this.retry);
    this.stopRefreshing();
    await this.settled();
    const lease = this.lease;
    this.lease = undefined;
    this.holding = false;
    this.lead(false);
    await lease?.revoke().catch((err: Error) => {
      this.logger?.warn({ err: err.message }, 'master lease not revoked; it expires by itself');
    });
  }

  private campaign(): void {
    if (this.stopped || this.holding) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runOnce().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.campaign();
      }
    });
  }

  private async runOnce(): Promise<void> {
    try {
      const lease = this.lease ?? (await this.newLease());
      if (this.stopped || this.store.get(MASTER_KEY)) return;
      // Refreshed just before: acting starts with a lease known to be alive now.
      const sentAt = performance.now();
      await lease.keepAlive();
      const record: MasterRecord = { nodeID: this.nodeID, lease: lease.id };
      if (await lease.create(MASTER_KEY, record as unknown as Json)) {
        if (this.stopped || this.lease !== lease) return;
        this.holding = true;
        this.refreshedAt = sentAt;
        this.startRefreshing(lease);
        this.logger?.info({ nodeID: this.nodeID }, 'elected cluster master');
        this.lead(this.fresh());
      }
    } catch (err) {
      if (this.stopped) return;
      this.logger?.warn(
        { err: (err as Error).message },
        'master election: could not run; trying again',
      );
      this.retry = setTimeout(() => this.campaign(), RETRY_MS);
      this.retry.unref();
    }
  }

  private async newLease(): Promise<StoreLease> {
    const lease = await this.store.grantLease(this.ttlSeconds);
    await lease.put(aliveKey(this.nodeID), { nodeID: this.nodeID });
    this.lease = lease;
    lease.onLost((err) => {
      if (this.lease !== lease) return;
      this.lease = undefined;
      this.holding = false;
      this.stopRefreshing();
      if (this.leading) {
        this.logger?.warn({ err: err.message }, 'master lease lost: no longer cluster master');
        this.lead(false);
      }
      this.campaign();
    });
    return lease;
  }

  /** The last successful refresh was sent recently enough for the lease to be alive. */
  private fresh(): boolean {
    return performance.now() - this.refreshedAt < this.actForMs;
  }

  /** While holding the key: refresh the lease, step down when refreshes stop succeeding. */
  private startRefreshing(lease: StoreLease): void {
    this.stopRefreshing();
    this.refreshTimer = setInterval(() => {
      if (this.leading && !this.fresh()) {
        const sinceMs = Math.round(performance.now() - this.refreshedAt);
        this.logger?.warn(
          { sinceMs, ttlSeconds: this.ttlSeconds },
          'master lease not refreshed in time: stepping down until the store answers',
        );
        this.lead(false);
      }
      if (this.refreshing) return;
      this.refreshing = true;
      const sentAt = performance.now();
      void lease
        .keepAlive()
        .then(() => {
          if (this.lease !== lease || !this.holding) return;
          this.refreshedAt = Math.max(this.refreshedAt, sentAt);
          // The lease is alive, so its key is too: back to acting.
          if (!this.leading && this.fresh() && !this.stopped) {
            this.logger?.info('master lease refreshed again: acting as cluster master');
            this.lead(true);
          }
        })
        .catch((err: Error) => {
          this.logger?.debug({ err: err.message }, 'master lease refresh failed');
        })
        .finally(() => (this.refreshing = false));
    }, this.refreshMs);
    this.refreshTimer.unref();
  }

  private stopRefreshing(): void {
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  private lead(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.options.onChange?.(leading);
  }
}
