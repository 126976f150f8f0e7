// Certificate checks made when an operator hands us PEM: it parses, it is not expired,
// and a client certificate carries the cluster's own public key (otherwise the key server
// would see a certificate we cannot prove possession of).
import { X509Certificate, type KeyObject } from 'node:crypto';
import { invalidParameter } from './errors';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Element's horizon for kmipCertificateFault: a certificate expiring sooner is flagged. */
export const EXPIRY_WARNING_DAYS = 30;

/** Every certificate in a PEM bundle, in order; throws xInvalidParameter naming `param`. */
export function parseCertificates(pem: string, param: string): X509Certificate[] {
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
  if (new Date(cert.validTo).getTime() <= now.getTime()) {
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
  if (!samePublicKey(leaf.publicKey, clusterPublicKey)) {
    throw invalidParameter(
      'kmipClientCertificate',
      "the certificate's public key is not the cluster's key pair (sign the CSR from GetClientCertificateSignRequest).",
    );
  }
  return leaf;
}

export function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  const der = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  return der(a).equals(der(b));
}

/** True when `cert` expires within Element's warning horizon (feeds kmipCertificateFault). */
export function expiresSoon(cert: X509Certificate, now = new Date()): boolean {
  return new Date(cert.validTo).getTime() - now.getTime() < EXPIRY_WARNING_DAYS * DAY_MS;
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
