// Refused logins in the audit log, written through the group commit (AuditBatcher) so a
// flood of them costs one commit per event-loop turn, not one each.
import type { Logger } from 'pino';
import type { AuditEvent } from './audit-log';

/** A refused login as Basic auth reports it: never the password. */
export interface FailedLoginReport {
  /** The user name the client gave ('' when it gave none). */
  user: string;
  remoteAddress: string;
  /** Failures of this client in a row. */
  failures: number;
  reason: string;
}

export class LoginAudit {
  private readonly writing = new Set<Promise<void>>();

  constructor(
    /** Appends an event durably (AuditBatcher.append). */
    private readonly append: (event: AuditEvent) => Promise<void>,
    private readonly logger?: Logger,
  ) {}

  /** Records a refused login; never throws (a failing write is logged). */
  record(failure: FailedLoginReport): void {
    this.write({
      source: 'auth',
      action: 'Login',
      user: failure.user,
      remoteAddress: failure.remoteAddress,
      params: { failures: failure.failures },
      outcome: 'xUnauthorized',
      details: failure.reason,
    });
  }

  /** Resolves once every record so far is written. */
  async flush(): Promise<void> {
    await Promise.all([...this.writing]);
  }

  private write(event: AuditEvent): void {
    const done = this.append(event)
      .catch((err) => this.logger?.error({ err }, 'cannot record a failed login'))
      .finally(() => this.writing.delete(done));
    this.writing.add(done);
  }
}
