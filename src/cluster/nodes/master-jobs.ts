// The cluster-wide jobs only the acting master runs (certificate expiry checks, the node
// and ensemble watches, ...). Each job is started with the master's fence when this node
// starts acting as master, and stopped when it stops (stepped down, lease lost, closing);
// a job added while this node is master starts at once. A job writes only through the
// fence, so a master replaced before its job noticed still writes nothing.
import type { Logger } from 'pino';
import type { MasterFence } from './master-fence';

/** Starts the job's work; returns what stops it (awaited when it returns a promise). */
export type MasterJob = (fence: MasterFence) => () => unknown;

export class MasterJobs {
  private readonly jobs = new Set<MasterJob>();
  private readonly running = new Map<MasterJob, () => unknown>();
  private fence: MasterFence | undefined;

  constructor(private readonly logger?: Logger) {}

  /** Runs `job` whenever this node is master; returns its removal (stopping it if running). */
  add(job: MasterJob): () => Promise<void> {
    this.jobs.add(job);
    if (this.fence) this.start(job, this.fence);
    return async () => {
      this.jobs.delete(job);
      await this.stop(job);
    };
  }

  /** This node starts (a fence) or stops (undefined) acting as master. */
  async lead(fence: MasterFence | undefined): Promise<void> {
    // Jobs get the fence of this term: what they start writes in no later term.
    this.fence = fence?.pinned();
    if (fence) for (const job of this.jobs) this.start(job, fence);
    else await Promise.all([...this.running.keys()].map((job) => this.stop(job)));
  }

  private start(job: MasterJob, fence: MasterFence): void {
    if (this.running.has(job)) return;
    try {
      this.running.set(job, job(fence));
    } catch (err) {
      this.logger?.error({ err: (err as Error).message }, 'master job failed to start');
    }
  }

  private async stop(job: MasterJob): Promise<void> {
    const stop = this.running.get(job);
    this.running.delete(job);
    try {
      await stop?.();
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'master job failed to stop');
    }
  }
}
