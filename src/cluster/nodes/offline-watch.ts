// nodeOffline, raised by the master: an active node whose alive key (held under its session
// lease) has been missing for the grace period is offline; the fault resolves when the key
// is back. The grace lets a node that just started, or a master that just took over, see
// the others' keys arrive before calling them offline.
import type { Logger } from 'pino';
import type { Store, StoreTx } from '../../store/store';
import { Periodic } from '../../util/periodic';
import type { FaultCode, FaultSubject } from '../faults';
import { activeNodes, aliveKey } from './node-records';

/** What the node watches and RemoveNodes need of the faults. */
export interface NodeFaults {
  raise(code: FaultCode, subject: FaultSubject, details: string): Promise<unknown>;
  resolve(code: FaultCode, subject: FaultSubject): Promise<unknown>;
  /** Raise inside a caller's transaction (a master's fenced one). */
  raiseIn(tx: StoreTx, code: FaultCode, subject: FaultSubject, details: string): unknown;
  /** Resolve inside a caller's transaction (with the change that ends the condition). */
  resolveIn(tx: StoreTx, code: FaultCode, subject: FaultSubject): unknown;
}

export class OfflineWatch {
  /** nodeID → when its alive key was first seen missing (ms). */
  private readonly missingSince = new Map<number, number>();
  /** What this watch last told the faults, per node. */
  private readonly told = new Map<number, 'offline' | 'online'>();
  private readonly periodic: Periodic;

  constructor(
    private readonly store: Store,
    private readonly faults: NodeFaults,
    private readonly graceMs: number,
    private readonly logger?: Logger,
  ) {
    this.periodic = new Periodic(
      () => this.checkOnce(),
      Math.max(100, graceMs / 4),
      (err) => this.logger?.warn({ err: err.message }, 'node liveness check failed'),
    );
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  private async checkOnce(): Promise<void> {
    const now = Date.now();
    for (const node of activeNodes(this.store)) {
      const id = node.nodeID;
      if (this.store.get(aliveKey(id))) {
        this.missingSince.delete(id);
        await this.tell(id, 'online');
        continue;
      }
      const since = this.missingSince.get(id) ?? now;
      this.missingSince.set(id, since);
      if (now - since >= this.graceMs) await this.tell(id, 'offline');
    }
  }

  private async tell(nodeID: number, state: 'offline' | 'online'): Promise<void> {
    if (this.told.get(nodeID) === state) return;
    if (state === 'offline') {
      this.logger?.warn({ nodeID }, 'node offline');
      await this.faults.raise('nodeOffline', { nodeID }, `Node ID ${nodeID} is offline.`);
    } else {
      await this.faults.resolve('nodeOffline', { nodeID });
    }
    this.told.set(nodeID, state);
  }
}
