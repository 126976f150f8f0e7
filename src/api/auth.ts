// HTTP Basic auth on every request, as Element does. Verifying is a scrypt hash (tens of
// ms, off the event loop), so a verified header is remembered under an HMAC of itself for
// a few minutes, until the admin credentials change. Each client address that keeps
// failing waits longer before its next attempt is even checked.
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminCredentials } from '../cluster/admin';

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

interface Failures {
  count: number;
  last: number;
}

export class BasicAuth {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, { revision: number; expires: number }>();
  private readonly failures = new Map<string, Failures>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly admin: AdminCredentials,
    private readonly logger?: Logger,
  ) {}

  /** True when `header` carries the admin's credentials. */
  async check(header: string | undefined, client: string): Promise<boolean> {
    const now = Date.now();
    const fingerprint = header && createHmac('sha256', this.cacheKey).update(header).digest('hex');
    const cached = fingerprint ? this.verified.get(fingerprint) : undefined;
    if (cached && cached.expires > now && cached.revision === this.admin.revision()) {
      this.failures.delete(client);
      return true;
    }

    await sleep(this.penalty(client, now));
    const revision = this.admin.revision();
    const ok = fingerprint !== undefined && (await this.verify(header as string));
    if (ok) {
      this.failures.delete(client);
      this.remember(fingerprint as string, revision);
    } else {
      this.recordFailure(client);
    }
    return ok;
  }

  private async verify(header: string): Promise<boolean> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!m) return false;
    const decoded = Buffer.from(m[1], 'base64');
    const text = decoded.toString('utf8');
    decoded.fill(0);
    const colon = text.indexOf(':');
    if (colon < 0) return false;
    await this.acquire();
    try {
      return await this.admin.verify(text.slice(0, colon), text.slice(colon + 1));
    } finally {
      this.release();
    }
  }

  private penalty(client: string, now: number): number {
    const f = this.failures.get(client);
    if (!f || now - f.last > FAILURE_MEMORY_MS || f.count < FREE_FAILURES) return 0;
    return Math.min(BASE_DELAY_MS * 2 ** (f.count - FREE_FAILURES), MAX_DELAY_MS);
  }

  private recordFailure(client: string): void {
    const now = Date.now();
    const f = this.failures.get(client);
    const count = f && now - f.last <= FAILURE_MEMORY_MS ? f.count + 1 : 1;
    if (!f && this.failures.size >= FAILURE_TABLE_MAX) this.prune(now);
    this.failures.set(client, { count, last: now });
    this.logger?.warn({ client, failures: count }, 'API authentication failed');
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

  private remember(fingerprint: string, revision: number): void {
    if (this.verified.size >= CACHE_MAX) this.verified.clear();
    this.verified.set(fingerprint, { revision, expires: Date.now() + CACHE_TTL_MS });
  }

  private acquire(): Promise<void> {
    if (this.running < MAX_CONCURRENT_VERIFICATIONS) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
