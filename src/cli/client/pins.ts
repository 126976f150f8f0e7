// Trust on first use for ekmd's self-signed API certificate: the SHA-256 fingerprint seen
// the first time a host:port is contacted is kept, and a different one later is refused
// before any credentials are sent.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file';

export class CertificateChangedError extends Error {
  override name = 'CertificateChangedError';
}

export class PinStore {
  constructor(readonly file: string) {}

  /**
   * Accepts `fingerprint` for `endpoint` when it matches the pinned one, pins it when none
   * is, and throws CertificateChangedError otherwise. Returns true when newly pinned.
   */
  check(endpoint: string, fingerprint: string): boolean {
    const pins = this.read();
    const pinned = pins[endpoint];
    if (pinned === fingerprint) return false;
    if (pinned !== undefined) {
      throw new CertificateChangedError(
        `the certificate of ekmd at ${endpoint} has changed: pinned SHA-256 ${pinned}, ` +
          `now ${fingerprint}. Refusing to send credentials. If the certificate was replaced ` +
          `on purpose, delete the "${endpoint}" entry from ${this.file} (or use --ca FILE).`,
      );
    }
    this.write({ ...pins, [endpoint]: fingerprint });
    return true;
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
