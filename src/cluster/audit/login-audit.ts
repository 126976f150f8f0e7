// Refused logins in the audit log, written through the group commit (AuditBatcher) so a
// flood of them costs one commit per event-loop turn, not one each, into a ring of their
// own (audit-log.ts) so they never evict an operation. They are also rate-limited: a
// burst is recorded one by one, then about one a second; the rest, and every attempt
// refused before any check (throttled), are counted and written as one summary,
// "N failures from M addresses suppressed in T s", at most once a minute.
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
  /** Refused before any check (too many attempts, server busy): only ever summarised. */
  throttled?: boolean;
}

export interface LoginAuditLimits {
  /** Refused logins recorded one by one before the rate applies. */
  burst: number;
  /** Then this many a second, on average. */
  perSecond: number;
  /** How long suppressed failures are counted before their summary is written. */
  summaryIntervalMs: number;
}

export const LOGIN_AUDIT_LIMITS: Readonly<LoginAuditLimits> = {
  burst: 100,
  perSecond: 1,
  summaryIntervalMs: 60_000,
};

/** Distinct addresses counted in one summary; beyond it the count reads "10000+". */
const MAX_COUNTED_ADDRESSES = 10_000;

interface Suppressed {
  failures: number;
  addresses: Set<string>;
  since: number;
}

export class LoginAudit {
  private readonly writing = new Set<Promise<void>>();
  private tokens: number;
  private refilled = Date.now();
  private suppressed: Suppressed | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;

  constructor(
    /** Appends an event durably (AuditBatcher.append). */
    private readonly append: (event: AuditEvent) => Promise<void>,
    private readonly logger?: Logger,
    private readonly limits: LoginAuditLimits = LOGIN_AUDIT_LIMITS,
  ) {
    this.tokens = limits.burst;
  }

  /** Records or counts a refused login; never throws (a failing write is logged). */
  record(failure: FailedLoginReport): void {
    if (!failure.throttled && this.takeToken()) {
      this.write({
        source: 'auth',
        action: 'Login',
        user: failure.user,
        remoteAddress: failure.remoteAddress,
        params: { failures: failure.failures },
        outcome: 'xUnauthorized',
        details: failure.reason,
      });
      return;
    }
    if (!this.suppressed) {
      this.suppressed = { failures: 0, addresses: new Set(), since: Date.now() };
      this.summaryTimer = setTimeout(() => this.summarise(), this.limits.summaryIntervalMs);
      this.summaryTimer.unref();
    }
    this.suppressed.failures++;
    if (this.suppressed.addresses.size < MAX_COUNTED_ADDRESSES) {
      this.suppressed.addresses.add(failure.remoteAddress);
    }
  }

  /** Writes the pending summary now; resolves once every record so far is written. */
  async flush(): Promise<void> {
    this.summarise();
    await Promise.all([...this.writing]);
  }

  private takeToken(): boolean {
    const now = Date.now();
    const { burst, perSecond } = this.limits;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilled) / 1000) * perSecond);
    this.refilled = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  private summarise(): void {
    clearTimeout(this.summaryTimer);
    const s = this.suppressed;
    this.suppressed = undefined;
    if (!s) return;
    const seconds = Math.max(1, Math.ceil((Date.now() - s.since) / 1000));
    const addresses = s.addresses.size;
    const shown = addresses >= MAX_COUNTED_ADDRESSES ? `${addresses}+` : String(addresses);
    this.write({
      source: 'auth',
      action: 'Login',
      params: { suppressed: s.failures, addresses, seconds },
      outcome: 'xUnauthorized',
      details: `${s.failures} failures from ${shown} addresses suppressed in ${seconds} s`,
    });
  }

  private write(event: AuditEvent): void {
    const done = this.append(event)
      .catch((err) => this.logger?.error({ err }, 'cannot record a failed login'))
      .finally(() => this.writing.delete(done));
    this.writing.add(done);
  }
}
