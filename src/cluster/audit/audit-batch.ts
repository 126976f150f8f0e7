// Group commit for the audit log. Under load every state-changing API call would add a
// second durable commit (an fsync on the event loop) after its own; events that arrive in
// the same turn of the event loop are instead written in one transaction. The caller
// waits for that commit before it answers, so an answered call is audited exactly as
// before: the window between an operation's commit and its audit record's (a kill -9
// there loses the record) is as short as it was, just shared.
import { MAX_TX_WRITES, type Store } from '../../store/store';
import {
  recordAudit,
  recordAuditIn,
  AUDIT_RETENTION,
  LOGIN_AUDIT_RETENTION,
  type AuditEvent,
} from './audit-log';

interface Pending {
  event: AuditEvent;
  settle: (err?: Error) => void;
}

export class AuditBatcher {
  private pending: Pending[] = [];

  constructor(
    private readonly store: Store,
    private readonly retention = AUDIT_RETENTION,
    private readonly loginRetention = LOGIN_AUDIT_RETENTION,
  ) {}

  /** Resolves once `event` is committed; rejects when it cannot be written. */
  append(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => void this.flush());
      this.pending.push({ event, settle: (err) => (err ? reject(err) : resolve()) });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    // One record each plus the shared sequence number: a transaction's write limit caps a chunk.
    for (let i = 0; i < batch.length; i += MAX_TX_WRITES - 1) {
      await this.commit(batch.slice(i, i + MAX_TX_WRITES - 1));
    }
  }

  private async commit(chunk: Pending[]): Promise<void> {
    try {
      await this.store.transaction((tx) => {
        for (const p of chunk) recordAuditIn(tx, p.event, this.retention, this.loginRetention);
      });
      for (const p of chunk) p.settle();
    } catch {
      // One bad event must not cost the others their record: write each on its own.
      for (const p of chunk) {
        try {
          await recordAudit(this.store, p.event, this.retention, this.loginRetention);
          p.settle();
        } catch (err) {
          p.settle(err as Error);
        }
      }
    }
  }
}
