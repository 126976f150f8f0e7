// HTTP Basic auth on every request, as Element does. Verifying is a scrypt hash (tens of
// ms, off the event loop), so a verified header is remembered under an HMAC of itself for
// a few minutes, until the admin credentials change, and is admitted at once: it never
// waits behind the checks of others. Clients that arrive together with the same header
// (a pool starting up) share one verification.
//
// Everything else is an unverified attempt, and password guessing is throttled:
// - one attempt in flight per client (clientSource: an IPv4 address or an IPv6 /64); a
//   second one at the same time is answered 429 at once, unchecked;
// - a client that keeps failing waits longer before its next attempt is even checked
//   (250 ms doubling to 8 s after 3 failures), and so does a user name (100 ms doubling to
//   4 s after 10 failures, attempts in flight counted, then one attempt at a time), except
//   from a client that has logged in as that user before;
// - at most 2 checks run at once and 8 wait, and those of clients not known to the user
//   are limited to 5 a second; beyond that the answer is 503. A client that
//   has logged in as the user before has a lane of its own (1 check at a time), so a
//   flood from elsewhere cannot keep the admin from logging in again.
// Failed logins are reported (user name and address, never the password) to the audit
// log: the first few of a client in a row, then every power of two; throttled attempts
// are reported for the log's summary of suppressed failures.
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminCredentials } from '../cluster/admin';
import { InFlightLimit } from '../util/in-flight-limit';
import { AttemptGate, type GatePolicy } from './attempt-gate';
import { clientSource } from './client-address';

const CACHE_TTL_MS = 5 * 60 * 1000;
const CACHE_MAX = 1024;
const CLIENT_POLICY: GatePolicy = {
  freeFailures: 3,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  memoryMs: 15 * 60 * 1000,
  maxEntries: 10_000,
};
const USER_POLICY: GatePolicy = {
  parallelWhileFree: true,
  freeFailures: 10,
  baseDelayMs: 100,
  maxDelayMs: 4000,
  memoryMs: 15 * 60 * 1000,
  maxEntries: 10_000,
};
/** scrypt runs on libuv's pool, which DNS and fs share: cap how many run at once… */
const MAX_CONCURRENT_VERIFICATIONS = 2;
/** …and how many wait: a flood must not delay a real login for long (≈ 8 × 25 ms). */
const MAX_QUEUED_VERIFICATIONS = 8;
/**
 * Checks for clients not known to the user, in all: 10 at once, then 5 a second. A real
 * login is rare (clients keep their verified header), and a distributed flood must not
 * keep the cores busy hashing: the calls of verified clients need them.
 */
const UNTRUSTED_CHECKS = { burst: 10, perSecond: 5 };
/** How long a client that logged in as a user is exempt from that user's waits. */
const TRUSTED_MS = 24 * 60 * 60 * 1000;
const TRUSTED_MAX = 1024;
/** Failures of one client reported one by one; after these, only powers of two. */
const REPORTED_FAILURES = 5;
const MAX_USER_LENGTH = 128;

/** A refused login as the audit log records it. */
export interface FailedLogin {
  /** The user name the client gave ('' when it gave none); never the password. */
  user: string;
  remoteAddress: string;
  /** Failures of this client in a row. */
  failures: number;
  reason:
    | 'no credentials'
    | 'malformed credentials'
    | 'wrong user name or password'
    | 'too many attempts'
    | 'server busy';
  /** Refused before any check: counted in the audit log's summary only. */
  throttled?: boolean;
}

/** What a request gets: its user, a refusal (401), or "try again later" (429, 503). */
export type Admission =
  { user: string } | { refused: 401 } | { throttled: 429 | 503; retryAfterS: number };

type Outcome = { ok: boolean; user: string; reason: FailedLogin['reason'] } | 'busy';
type Checked = Exclude<Outcome, 'busy'>;
type Credentials = { user: string; password: string };

export class BasicAuth {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<
    string,
    { revision: number; expires: number; user: string }
  >();
  private readonly clients = new AttemptGate(CLIENT_POLICY);
  private readonly users = new AttemptGate(USER_POLICY);
  /** user + client → until when the client is exempt from the user's waits. */
  private readonly trusted = new Map<string, number>();
  /** Verifications under way, by fingerprint and credentials revision. */
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  private readonly verifications = new InFlightLimit(MAX_CONCURRENT_VERIFICATIONS);
  private readonly untrustedChecks = new TokenBucket(UNTRUSTED_CHECKS);
  /** A lane of its own for clients that logged in as the user before: no flood ahead. */
  private readonly trustedVerifications = new InFlightLimit(1);

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
    const admission = await this.admit(header, client);
    return 'user' in admission ? admission.user : undefined;
  }

  async admit(header: string | undefined, client: string): Promise<Admission> {
    const fingerprint = header && createHmac('sha256', this.cacheKey).update(header).digest('hex');
    const cached = fingerprint ? this.verified.get(fingerprint) : undefined;
    const source = clientSource(client);
    if (cached && cached.expires > Date.now() && cached.revision === this.admin.revision()) {
      this.clients.reset(source);
      return { user: cached.user };
    }
    const revision = this.admin.revision();
    const key = `${fingerprint}/${revision}`;
    const running = this.inFlight.get(key);
    if (running) return this.conclude(await running, source, client, fingerprint, revision);

    const credentials = header ? parseBasic(header) : undefined;
    const name = credentials?.user ?? '';
    const clientWait = this.clients.enter(source);
    if (clientWait === undefined) return this.throttle(429, client, name);
    const userGated = credentials !== undefined && !this.isTrusted(name, source);
    const userWait = userGated ? this.users.enter(name) : 0;
    if (userWait === undefined) {
      this.clients.leave(source);
      return this.throttle(429, client, name);
    }
    // Registered before its first wait, so the same header arriving meanwhile joins it.
    const lane = userGated ? this.verifications : this.trustedVerifications;
    const attempt = this.attempt(header, credentials, Math.max(clientWait, userWait), lane);
    this.inFlight.set(key, attempt);
    let outcome: Outcome | undefined;
    try {
      outcome = await attempt;
    } finally {
      this.inFlight.delete(key);
      const counted = outcome && outcome !== 'busy' ? result(outcome) : undefined;
      if (userGated) this.users.leave(name, counted);
      this.clients.leave(source, counted);
    }
    return this.conclude(outcome, source, client, fingerprint, revision, true);
  }

  /** Waits `waitMs`, then checks the credentials in `lane`; 'busy' when it is full. */
  private async attempt(
    header: string | undefined,
    credentials: Credentials | undefined,
    waitMs: number,
    lane: InFlightLimit,
  ): Promise<Outcome> {
    await sleep(waitMs);
    if (!header) return { ok: false, user: '', reason: 'no credentials' };
    if (!credentials) return { ok: false, user: '', reason: 'malformed credentials' };
    if (lane.inFlight >= lane.max && lane.queued >= MAX_QUEUED_VERIFICATIONS) return 'busy';
    if (lane === this.verifications && !this.untrustedChecks.take()) return 'busy';
    const { user, password } = credentials;
    const ok = await lane.run(() => this.admin.verify(user, password));
    return { ok, user, reason: 'wrong user name or password' };
  }

  private conclude(
    outcome: Outcome,
    source: string,
    client: string,
    fingerprint: string | undefined,
    revision: number,
    counted = false,
  ): Admission {
    if (outcome === 'busy') return this.throttle(503, client, '');
    return this.settle(outcome, source, client, fingerprint, revision, counted);
  }

  /** Admits or refuses after an outcome; `counted`: the gates already counted it. */
  private settle(
    outcome: Checked,
    source: string,
    client: string,
    fingerprint: string | undefined,
    revision: number,
    counted = false,
  ): Admission {
    if (outcome.ok) {
      this.clients.reset(source);
      this.users.reset(outcome.user);
      this.trust(outcome.user, source);
      this.remember(fingerprint as string, revision, outcome.user);
      return { user: outcome.user };
    }
    const failures = counted ? this.clients.failures(source) : this.clients.fail(source);
    this.logger?.warn({ client, failures }, 'API authentication failed');
    if (failures <= REPORTED_FAILURES || (failures & (failures - 1)) === 0) {
      this.report({ user: outcome.user, remoteAddress: client, failures, reason: outcome.reason });
    }
    return { refused: 401 };
  }

  private throttle(status: 429 | 503, client: string, user: string): Admission {
    this.logger?.debug({ client, status }, 'API login attempt throttled');
    const failures = this.clients.failures(clientSource(client));
    const reason = status === 429 ? 'too many attempts' : 'server busy';
    this.report({ user, remoteAddress: client, failures, reason, throttled: true });
    return { throttled: status, retryAfterS: 1 };
  }

  private report(failure: FailedLogin): void {
    if (!this.onFailure) return;
    try {
      this.onFailure({ ...failure, user: failure.user.slice(0, MAX_USER_LENGTH) });
    } catch (err) {
      this.logger?.error({ err }, 'cannot record a failed login');
    }
  }

  private isTrusted(user: string, source: string): boolean {
    return (this.trusted.get(`${user}\0${source}`) ?? 0) > Date.now();
  }

  private trust(user: string, source: string): void {
    if (this.trusted.size >= TRUSTED_MAX) this.trusted.clear();
    this.trusted.set(`${user}\0${source}`, Date.now() + TRUSTED_MS);
  }

  private remember(fingerprint: string, revision: number, user: string): void {
    if (this.verified.size >= CACHE_MAX) this.verified.clear();
    this.verified.set(fingerprint, { revision, expires: Date.now() + CACHE_TTL_MS, user });
  }
}

/** The user name and password of a Basic header, or undefined when it is malformed. */
function parseBasic(header: string): Credentials | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64');
  const text = decoded.toString('utf8');
  decoded.fill(0);
  const colon = text.indexOf(':');
  // Without a colon the text may be a password typed alone: it is not a user name.
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** At most `burst` at once, refilled at `perSecond`. */
class TokenBucket {
  private tokens: number;
  private refilled = Date.now();

  constructor(private readonly rate: { burst: number; perSecond: number }) {
    this.tokens = rate.burst;
  }

  take(now = Date.now()): boolean {
    const { burst, perSecond } = this.rate;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilled) / 1000) * perSecond);
    this.refilled = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

const result = (outcome: Checked) => (outcome.ok ? 'ok' : 'failed');

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
