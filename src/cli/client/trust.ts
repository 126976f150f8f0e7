// Whether ekmctl may send credentials to the certificate an ekmd presents, when no --ca
// verifies it. In order:
//   1. the daemon's own certificate, read from its stateDir on this machine: trusted
//      without asking (ekmctl runs on the node);
//   2. --fingerprint SHA256: the certificate must have it, and is then pinned;
//   3. a certificate pinned earlier for this host:port: it must be the same one;
//   4. on a terminal, a first contact shows the fingerprint and asks; yes pins it;
//   5. anything else is refused, saying how to check the fingerprint.
// The first contact is settled (settleFirstContact) before a password is asked for or sent.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../util/command';
import { API_CERT_FILE } from '../../store/state-files';
import type { PinStore } from './pins';

export class UntrustedCertificateError extends Error {
  override name = 'UntrustedCertificateError';
}

export interface TrustSources {
  pins: PinStore;
  /** --fingerprint, normalised (fingerprintOf). */
  expected?: string;
  /** The fingerprint of the daemon's own certificate on this machine, when readable. */
  local?: string;
  /** Asks the operator whether to trust `fingerprint`; absent without a terminal. */
  ask?: (endpoint: string, fingerprint: string) => Promise<boolean>;
  /** Told when a fingerprint is pinned. */
  onPinned?: (endpoint: string, fingerprint: string) => void;
}

/** Where the node's certificate is compared by hand. */
export const CHECK_ON_NODE =
  '`openssl x509 -noout -fingerprint -sha256 -in /var/lib/ekmd/api-tls.crt` on the node';

/**
 * Settles trust in the certificate `fingerprint` seen at `endpoint` before any credentials
 * go there: returns when it may be used (pinning it when the operator vouched for it),
 * throws when it may not.
 */
export async function settleFirstContact(
  endpoint: string,
  fingerprint: string,
  trust: TrustSources,
): Promise<void> {
  if (trust.local === fingerprint) return;
  if (trust.expected !== undefined) {
    refuseUnexpected(endpoint, fingerprint, trust.expected);
    if (trust.pins.pinned(endpoint) !== fingerprint) pin(endpoint, fingerprint, trust);
    return;
  }
  trust.pins.refuseChanged(endpoint, fingerprint);
  if (trust.pins.pinned(endpoint) === fingerprint) return;
  if (!trust.ask) {
    throw new UntrustedCertificateError(
      `first contact with ekmd at ${endpoint}, whose certificate has SHA-256 ${fingerprint}: ` +
        `not sending credentials to a certificate nothing vouches for. Compare it with ` +
        `${CHECK_ON_NODE}, then run again with --fingerprint ${fingerprint} (or --ca FILE, ` +
        'or on a terminal to be asked).',
    );
  }
  if (!(await trust.ask(endpoint, fingerprint))) {
    throw new UntrustedCertificateError(
      `the certificate of ekmd at ${endpoint} was not trusted; nothing was sent`,
    );
  }
  pin(endpoint, fingerprint, trust);
}

/**
 * Checks the certificate of a connection about to carry credentials, without asking:
 * the one settled at first contact, the local one, --fingerprint's or the pinned one.
 */
export function checkPresented(
  endpoint: string,
  fingerprint: string,
  trust: TrustSources,
  settled: string | undefined,
): void {
  if (fingerprint === settled || fingerprint === trust.local) return;
  if (trust.expected !== undefined) return refuseUnexpected(endpoint, fingerprint, trust.expected);
  trust.pins.refuseChanged(endpoint, fingerprint);
  if (trust.pins.pinned(endpoint) === undefined) {
    throw new UntrustedCertificateError(
      `ekmd at ${endpoint} presents a certificate that was never trusted (SHA-256 ${fingerprint})`,
    );
  }
}

function refuseUnexpected(endpoint: string, fingerprint: string, expected: string): void {
  if (fingerprint === expected) return;
  throw new UntrustedCertificateError(
    `the certificate of ekmd at ${endpoint} has SHA-256 ${fingerprint}, not the ` +
      `--fingerprint given (${expected}); refusing to send credentials`,
  );
}

function pin(endpoint: string, fingerprint: string, trust: TrustSources): void {
  trust.pins.pin(endpoint, fingerprint);
  trust.onPinned?.(endpoint, fingerprint);
}

/**
 * --fingerprint as Node writes SHA-256 fingerprints (AA:BB:…, upper case). Accepts 64 hex
 * digits with or without colons, as openssl prints them too (`sha256 Fingerprint=…`).
 */
export function fingerprintOf(text: string): string {
  const hex = text
    .trim()
    .replace(/^(sha-?256( fingerprint)?[=:]\s*)/i, '')
    .replace(/:/g, '');
  if (!/^[0-9A-Fa-f]{64}$/.test(hex)) {
    throw new UsageError(
      `bad --fingerprint '${text}' (64 hex digits of the certificate's SHA-256, colons allowed)`,
    );
  }
  return hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/** The fingerprint of ekmd's self-signed certificate in `stateDir`, when this user can read it. */
export function localFingerprint(stateDir: string): string | undefined {
  try {
    return new X509Certificate(readFileSync(join(stateDir, API_CERT_FILE))).fingerprint256;
  } catch {
    return undefined; // not on the node, not allowed to read it, or not made yet
  }
}
