// The cluster master election: each active node tries to create MASTER_KEY under a lease of
// its own; the one that does is master until its lease ends (revoked at a clean stop,
// expired when the node dies or loses the store), when the key disappears and the others,
// watching it, try again. On SQLite there is one node, which wins at once.
import type { Logger } from 'pino';
import type { Json, Store, StoreLease } from '../../store/store';
import { MASTER_KEY, type MasterRecord } from './node-records';

/** A dead master's key lasts this long; etcd3 also reports a lease lost after 2 × TTL. */
export const MASTER_LEASE_TTL_SECONDS = 5;
const RETRY_MS = 1_000;

export class MasterElection {
  private lease: StoreLease | undefined;
  private leading = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly unwatch: () => void;

  constructor(
    private readonly store: Store,
    private readonly nodeID: number,
    private readonly logger?: Logger,
    private readonly ttlSeconds = MASTER_LEASE_TTL_SECONDS,
  ) {
    // A deleted key is a vacancy: every follower runs for it.
    this.unwatch = store.watch(MASTER_KEY, (change) => {
      if (change.key === MASTER_KEY && change.type === 'delete' && !this.leading) this.campaign();
    });
    this.campaign();
  }

  /** Whether this node holds the master key now. */
  isMaster(): boolean {
    return this.leading;
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
    await this.settled();
    const lease = this.lease;
    this.lease = undefined;
    this.leading = false;
    await lease?.revoke().catch((err: Error) => {
      this.logger?.warn({ err: err.message }, 'master lease not revoked; it expires by itself');
    });
  }

  private campaign(): void {
    if (this.stopped) return;
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
      if (this.stopped) return;
      const record: MasterRecord = { nodeID: this.nodeID };
      if (await lease.create(MASTER_KEY, record as unknown as Json)) {
        this.leading = true;
        this.logger?.info({ nodeID: this.nodeID }, 'elected cluster master');
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
    this.lease = lease;
    lease.onLost((err) => {
      if (this.lease !== lease) return;
      this.lease = undefined;
      if (this.leading) {
        this.leading = false;
        this.logger?.warn({ err: err.message }, 'master lease lost: no longer cluster master');
      }
      this.campaign();
    });
    return lease;
  }
}
