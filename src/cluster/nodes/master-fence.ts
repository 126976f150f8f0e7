// Fencing the master's writes: a write made for a master job commits only while this node
// is the acting master of the term it was elected in. Inside the write's transaction the
// fence reads nodes/master and refuses unless it names this node and its lease; since a
// transaction commits only if nothing it read has changed (on etcd a compare on the key's
// revision, on SQLite one writer at a time), a master replaced meanwhile (its lease expired,
// the key deleted and created again by another node) cannot commit: the transaction runs
// again, sees the new holder and throws NotMasterError, writing nothing.
import type { Store, StoreReader, StoreTx } from '../../store/store';
import { MASTER_KEY, type MasterRecord } from './node-records';

export class NotMasterError extends Error {
  override readonly name = 'NotMasterError';
}

/** The term this node acts as master in: its nodeID and the lease of its election key. */
export interface MasterTerm {
  nodeID: number;
  lease: string;
}

export class MasterFence {
  constructor(
    readonly store: Store,
    /** The term while this node acts as master; undefined while it does not. */
    private readonly currentTerm: () => MasterTerm | undefined,
  ) {}

  /** The term this node acts as master in now; undefined while it does not. */
  term(): MasterTerm | undefined {
    return this.currentTerm();
  }

  /**
   * This fence held to the term now: it refuses once this node acts in another term too,
   * so work started in one term (a job, a rekey in flight) never writes in the next.
   */
  pinned(): MasterFence {
    const now = this.currentTerm();
    return new MasterFence(this.store, () => {
      const term = this.currentTerm();
      return term && now && term.nodeID === now.nodeID && term.lease === now.lease
        ? term
        : undefined;
    });
  }

  /** Throws NotMasterError unless the store's master key is this node's current term. */
  check(reader: StoreReader): void {
    const term = this.term();
    if (!term)
      throw new NotMasterError('this node is not the acting cluster master; nothing written');
    const held = reader.get<MasterRecord>(MASTER_KEY)?.value;
    if (!held || held.nodeID !== term.nodeID || held.lease !== term.lease) {
      throw new NotMasterError(
        `node ${term.nodeID} is no longer the cluster master (the master key names ` +
          `${held ? `node ${held.nodeID}` : 'no node'}); nothing written`,
      );
    }
  }

  /** A store transaction that commits only while this node is master (see above). */
  transaction<R>(fn: (tx: StoreTx) => R): Promise<R> {
    return this.store.transaction((tx) => {
      this.check(tx);
      return fn(tx);
    });
  }
}
