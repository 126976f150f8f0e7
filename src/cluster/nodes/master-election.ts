// The cluster master election: each active node tries to create MASTER_KEY under a lease of
// its own; the one that does is master until its lease ends (revoked at a clean stop,
// expired when the node dies or loses the store), when the key disappears and the others,
// watching it, try again. On SQLite there is one node, which wins at once.
//
// The same lease is the node's session: it also holds the node's alive key, which the
// master watches to tell that a node is offline (OfflineWatch).
import type { Logger } from 'pino';
import type { Json, Store, StoreLease } from '../../store/store';
import { aliveKey, MASTER_KEY, type MasterRecord } from './node-records';

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

  private readonly logger: Logger | undefined;
  private readonly ttlSeconds: number;

  constructor(
    private readonly store: Store,
    private readonly nodeID: number,
    private readonly options: {
      logger?: Logger;
      ttlSeconds?: number;
      /** Told each time this node becomes master or stops being it. */
      onChange?: (leading: boolean) => void;
    } = {},
  ) {
    this.logger = options.logger;
    this.ttlSeconds = options.ttlSeconds ?? MASTER_LEASE_TTL_SECONDS;
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
    this.lead(false);
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
        this.logger?.info({ nodeID: this.nodeID }, 'elected cluster master');
        this.lead(true);
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
      if (this.leading) {
        this.logger?.warn({ err: err.message }, 'master lease lost: no longer cluster master');
        this.lead(false);
      }
      this.campaign();
    });
    return lease;
  }

  private lead(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.options.onChange?.(leading);
  }
}
