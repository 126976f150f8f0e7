// HTTP Basic auth on every request, as Element does. Verifying is a scrypt hash (tens of
// ms, off the event loop), so a verified header is remembered under an HMAC of itself for
// a few minutes, until the admin credentials change; clients that arrive together with the
// same header (a pool starting up) share one verification instead of queueing one each.
// Each client address that keeps
// failing waits longer before its next attempt is even checked. Failed logins are
// reported (user name and address, never the password) to the audit log: the first few
// of an address in a row, then every power of two, so a flood cannot push older events
// out of the bounded log.
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminCredentials } from '../cluster/admin';
import { InFlightLimit } from '../util/in-flight-limit';

const CACHE_TTL_MS = 5 * 60 * 1000;
const CACHE_MAX = 1024;
/** Failures allowed before the delays start; then 250 ms, doubling, up to 8 s. */
const FREE_FAILURES = 3;
const BASE_DELAY_MS = 250;
const MAX_DELAY_MS = 8000;
const FAILURE_MEMORY_MS = 15 * 60 * 1000;
const FAILURE_TABLE_MAX = 10_000;
/** scrypt runs on libuv's pool, which DNS and fs share: cap how many run at once. */
const MAX_CONCURRENT_VERIFICATIONS = 2;
/** Failures of one address reported one by one; after these, only powers of two. */
const REPORTED_FAILURES = 5;
const MAX_USER_LENGTH = 128;

/** A refused login as the audit log records it. */
export interface FailedLogin {
  /** The user name the client gave ('' when it gave none); never the password. */
  user: string;
  remoteAddress: string;
  /** Failures of this address in a row. */
  failures: number;
  reason: 'no credentials' | 'malformed credentials' | 'wrong user name or password';
}

interface Failures {
  count: number;
  last: number;
}

export class BasicAuth {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<
    string,
    { revision: number; expires: number; user: string }
  >();
  private readonly failures = new Map<string, Failures>();
  /** Verifications under way, by fingerprint and credentials revision. */
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  private readonly verifications = new InFlightLimit(MAX_CONCURRENT_VERIFICATIONS);

  constructor(
    private readonly admin: AdminCredentials,
    private readonly logger?: Logger,
    /** Told of refused logins (the audit log); must not throw. */
    private readonly onFailure?: (failure: FailedLogin) => void,
  ) {}

  /** True when `header` carries the admin's credentials. */
  async check(header: string | undefined, client: string): Promise<boolean> {
    return (await this.authenticate(header, client)) !== undefined;
  }

  /** The user name when `header` carries the admin's credentials, else undefined. */
  async authenticate(header: string | undefined, client: string): Promise<string | undefined> {
    const now = Date.now();
    const fingerprint = header && createHmac('sha256', this.cacheKey).update(header).digest('hex');
    const cached = fingerprint ? this.verified.get(fingerprint) : undefined;
    if (cached && cached.expires > now && cached.revision === this.admin.revision()) {
      this.failures.delete(client);
      return cached.user;
    }

    await sleep(this.penalty(client, now));
    const revision = this.admin.revision();
    const outcome: Outcome = header
      ? await this.verifyOnce(header, `${fingerprint}/${revision}`)
      : { ok: false, user: '', reason: 'no credentials' };
    if (outcome.ok) {
      this.failures.delete(client);
      this.remember(fingerprint as string, revision, outcome.user);
      return outcome.user;
    }
    this.recordFailure(client, outcome);
    return undefined;
  }

  /** One verification per distinct header at a time; the others wait for its outcome. */
  private verifyOnce(header: string, key: string): Promise<Outcome> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const outcome = this.verify(header).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, outcome);
    return outcome;
  }

  private async verify(header: string): Promise<Outcome> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!m) return { ok: false, user: '', reason: 'malformed credentials' };
    const decoded = Buffer.from(m[1], 'base64');
    const text = decoded.toString('utf8');
    decoded.fill(0);
    const colon = text.indexOf(':');
    // Without a colon the text may be a password typed alone: it is not a user name.
    if (colon < 0) return { ok: false, user: '', reason: 'malformed credentials' };
    const user = text.slice(0, colon);
    const ok = await this.verifications.run(() => this.admin.verify(user, text.slice(colon + 1)));
    return { ok, user, reason: 'wrong user name or password' };
  }

  private penalty(client: string, now: number): number {
    const f = this.failures.get(client);
    if (!f || now - f.last > FAILURE_MEMORY_MS || f.count < FREE_FAILURES) return 0;
    return Math.min(BASE_DELAY_MS * 2 ** (f.count - FREE_FAILURES), MAX_DELAY_MS);
  }

  private recordFailure(client: string, outcome: Outcome): void {
    const now = Date.now();
    const f = this.failures.get(client);
    const count = f && now - f.last <= FAILURE_MEMORY_MS ? f.count + 1 : 1;
    if (!f && this.failures.size >= FAILURE_TABLE_MAX) this.prune(now);
    this.failures.set(client, { count, last: now });
    this.logger?.warn({ client, failures: count }, 'API authentication failed');
    if (!this.onFailure || (count > REPORTED_FAILURES && (count & (count - 1)) !== 0)) return;
    try {
      this.onFailure({
        user: outcome.user.slice(0, MAX_USER_LENGTH),
        remoteAddress: client,
        failures: count,
        reason: outcome.reason,
      });
    } catch (err) {
      this.logger?.error({ err }, 'cannot record a failed login');
    }
  }

  private prune(now: number): void {
    for (const [client, f] of this.failures) {
      if (now - f.last > FAILURE_MEMORY_MS) this.failures.delete(client);
    }
    // Still full of fresh entries: forget the oldest rather than grow without bound.
    if (this.failures.size >= FAILURE_TABLE_MAX) {
      this.failures.delete(this.failures.keys().next().value as string);
    }
  }

  private remember(fingerprint: string, revision: number, user: string): void {
    if (this.verified.size >= CACHE_MAX) this.verified.clear();
    this.verified.set(fingerprint, { revision, expires: Date.now() + CACHE_TTL_MS, user });
  }
}

type Outcome = { ok: boolean; user: string; reason: FailedLogin['reason'] };

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
