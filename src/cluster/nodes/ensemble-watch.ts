// ensembleDegraded, raised by the master: the store's members are asked for their health
// every interval; one or more unhealthy raises (or updates) the one fault for the cluster,
// naming them; all healthy resolves it. An embedded store has no ensemble: nothing to do.
import type { Logger } from 'pino';
import type { EnsembleMember, Store } from '../../store/store';
import { Periodic } from '../../util/periodic';
import type { NodeFaults } from './offline-watch';

export const ENSEMBLE_CHECK_MS = 10_000;

export class EnsembleWatch {
  private readonly periodic: Periodic;
  private told: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly faults: NodeFaults,
    intervalMs = ENSEMBLE_CHECK_MS,
    private readonly logger?: Logger,
  ) {
    this.periodic = new Periodic(
      () => this.checkOnce(),
      intervalMs,
      (err) => this.logger?.warn({ err: err.message }, 'ensemble check failed'),
    );
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  private async checkOnce(): Promise<void> {
    const members = await this.store.ensemble();
    if (members.length === 0) return;
    const unhealthy = members.filter((m) => !m.healthy);
    const details = unhealthy.length ? describe(unhealthy, members.length) : '';
    if (details === this.told) return;
    if (details) {
      this.logger?.warn({ unhealthy: unhealthy.map((m) => m.endpoint) }, 'ensemble degraded');
      await this.faults.raise('ensembleDegraded', {}, details);
    } else {
      await this.faults.resolve('ensembleDegraded', {});
    }
    this.told = details;
  }
}

function describe(unhealthy: EnsembleMember[], total: number): string {
  const names = unhealthy.map((m) => `${m.endpoint} (${m.problem ?? 'unhealthy'})`).join(', ');
  return `${total - unhealthy.length} of ${total} ensemble members healthy; unhealthy: ${names}.`;
}
