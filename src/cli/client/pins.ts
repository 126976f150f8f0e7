// The SHA-256 fingerprints of the ekmd certificates this user has trusted, per host:port
// (trust.ts decides when one is added). A different certificate later is refused before
// any credentials are sent.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file';

export class CertificateChangedError extends Error {
  override name = 'CertificateChangedError';
}

export class PinStore {
  constructor(readonly file: string) {}

  /** The fingerprint pinned for `endpoint`, if any. */
  pinned(endpoint: string): string | undefined {
    return this.read()[endpoint];
  }

  /** Pins `fingerprint` for `endpoint`, replacing what was pinned. */
  pin(endpoint: string, fingerprint: string): void {
    this.write({ ...this.read(), [endpoint]: fingerprint });
  }

  /** Throws CertificateChangedError unless `fingerprint` is the one pinned for `endpoint`. */
  refuseChanged(endpoint: string, fingerprint: string): void {
    const pinned = this.pinned(endpoint);
    if (pinned === undefined || pinned === fingerprint) return;
    throw new CertificateChangedError(
      `the certificate of ekmd at ${endpoint} has changed: pinned SHA-256 ${pinned}, ` +
        `now ${fingerprint}. Refusing to send credentials. If the certificate was replaced ` +
        `on purpose, delete the "${endpoint}" entry from ${this.file} (or use --ca FILE ` +
        'or --fingerprint SHA256).',
    );
  }

  private read(): Record<string, string> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    try {
      const pins = JSON.parse(text) as unknown;
      if (typeof pins === 'object' && pins !== null && !Array.isArray(pins)) {
        return pins as Record<string, string>;
      }
    } catch {
      // reported below
    }
    throw new Error(`${this.file} is damaged (not a JSON object); fix or delete it`);
  }

  /** Temporary file, fsync, rename: a crash leaves the old pins or the new ones. */
  private write(pins: Record<string, string>): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify(pins, null, 2) + '\n', 0o600);
  }
}
