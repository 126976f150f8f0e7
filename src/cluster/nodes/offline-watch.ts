// nodeOffline, raised by the master: an active node whose alive key (held under its session
// lease) has been missing for the grace period is offline; the fault resolves when the key
// is back. The grace lets a node that just started, or a master that just took over, see
// the others' keys arrive before calling them offline.
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import type { FaultCode, FaultSubject } from '../faults';
import { activeNodes, aliveKey } from './node-records';

/** What the watch needs of the faults. */
export interface NodeFaults {
  raise(code: FaultCode, subject: FaultSubject, details: string): Promise<unknown>;
  resolve(code: FaultCode, subject: FaultSubject): Promise<unknown>;
}

export class OfflineWatch {
  /** nodeID → when its alive key was first seen missing (ms). */
  private readonly missingSince = new Map<number, number>();
  /** What this watch last told the faults, per node. */
  private readonly told = new Map<number, 'offline' | 'online'>();
  private readonly timer: NodeJS.Timeout;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly faults: NodeFaults,
    private readonly graceMs: number,
    private readonly logger?: Logger,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(100, graceMs / 4));
    this.timer.unref();
    this.check();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
  }

  private check(): void {
    if (this.checking) return;
    this.checking = this.checkOnce()
      .catch((err: Error) => this.logger?.warn({ err: err.message }, 'node liveness check failed'))
      .finally(() => (this.checking = undefined));
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
