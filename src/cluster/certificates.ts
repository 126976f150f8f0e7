// Certificate checks made when an operator hands us PEM: it parses, it is not expired,
// and a client certificate carries the cluster's own public key (otherwise the key server
// would see a certificate we cannot prove possession of).
// Parsing is cached by the PEM's hash: Modify and the key-server test check the same
// stored certificates on every call, and X509 parsing is costly under load.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { invalidParameter } from './errors';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Element's horizon for kmipCertificateFault: a certificate expiring sooner is flagged. */
export const EXPIRY_WARNING_DAYS = 30;

const PARSED_MAX = 256;
/** sha256 of a PEM bundle → its parsed certificates (immutable, so safe to share). */
const parsed = new Map<string, readonly X509Certificate[]>();
const validToMs = new WeakMap<X509Certificate, number>();
const publicKeys = new WeakMap<X509Certificate, KeyObject>();

/** Every certificate in a PEM bundle, in order; throws xInvalidParameter naming `param`. */
export function parseCertificates(pem: string, param: string): X509Certificate[] {
  const hash = createHash('sha256').update(pem, 'utf8').digest('base64');
  const known = parsed.get(hash);
  if (known) return [...known];
  const certs = parseUncached(pem, param);
  // Bounded: forget the oldest bundle rather than grow with every certificate seen.
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
  parsed.set(hash, certs);
  return [...certs];
}

function parseUncached(pem: string, param: string): X509Certificate[] {
  const blocks = pem.match(PEM_BLOCK);
  if (!blocks) throw invalidParameter(param, 'no PEM certificate found.');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw invalidParameter(param, `certificate ${i + 1} does not parse.`);
    }
  });
}

function checkNotExpired(cert: X509Certificate, param: string, now: Date): void {
  if (expiryOf(cert) <= now.getTime()) {
    const subject = cert.subject.replace(/\n/g, ', ');
    throw invalidParameter(param, `certificate "${subject}" expired on ${cert.validTo}.`);
  }
}

/** The key server's CA bundle: one or more certificates, none expired. */
export function checkCaCertificates(pem: string, now = new Date()): X509Certificate[] {
  const certs = parseCertificates(pem, 'kmipCaCertificate');
  for (const cert of certs) checkNotExpired(cert, 'kmipCaCertificate', now);
  return certs;
}

/** The cluster's client certificate (optionally followed by its chain). */
export function checkClientCertificate(
  pem: string,
  clusterPublicKey: KeyObject,
  now = new Date(),
): X509Certificate {
  const [leaf] = parseCertificates(pem, 'kmipClientCertificate');
  checkNotExpired(leaf, 'kmipClientCertificate', now);
  if (!certHasKey(leaf, clusterPublicKey)) {
    throw invalidParameter(
      'kmipClientCertificate',
      "the certificate's public key is not the cluster's key pair (sign the CSR from GetClientCertificateSignRequest).",
    );
  }
  return leaf;
}

function expiryOf(cert: X509Certificate): number {
  let ms = validToMs.get(cert);
  if (ms === undefined) validToMs.set(cert, (ms = new Date(cert.validTo).getTime()));
  return ms;
}

/** Whether the certificate holds `key`; its key is extracted once per certificate. */
function certHasKey(cert: X509Certificate, key: KeyObject): boolean {
  let own = publicKeys.get(cert);
  if (!own) publicKeys.set(cert, (own = cert.publicKey));
  return own.equals(key);
}

/** True when `cert` expires within Element's warning horizon (feeds kmipCertificateFault). */
export function expiresSoon(cert: X509Certificate, now = new Date()): boolean {
  return expiryOf(cert) - now.getTime() < EXPIRY_WARNING_DAYS * DAY_MS;
}

/**
 * What is wrong with the certificates of a PEM bundle as time goes by: each one expired or
 * expiring within the warning horizon, named by `what` and subject. Unparsable text is
 * reported too: it was checked when stored, so it means the record was damaged.
 */
export function expiryProblems(pem: string, what: string, now = new Date()): string[] {
  let certs: X509Certificate[];
  try {
    certs = parseCertificates(pem, what);
  } catch {
    return [`${what} does not parse`];
  }
  return certs.flatMap((cert) => {
    if (!expiresSoon(cert, now)) return [];
    const subject = cert.subject.replace(/\n/g, ', ');
    const expired = new Date(cert.validTo).getTime() <= now.getTime();
    return [`${what} "${subject}" ${expired ? 'expired' : 'expires'} on ${cert.validTo}`];
  });
}
