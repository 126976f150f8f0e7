// Test PKI around the cluster's own CSR: a CA that signs it (as an operator's CA would),
// with the validity and extended key usage a test needs.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface TestCa {
  certPem: string;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

const DAY = 24 * 60 * 60 * 1000;

function newRsaPem(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function validity(cert: forge.pki.Certificate, fromDays: number, toDays: number): void {
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() + fromDays * DAY);
  cert.validity.notAfter = new Date(Date.now() + toDays * DAY);
}

export function makeCa(cn: string, days = 365): TestCa {
  const { publicKey, privateKey } = newRsaPem();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  validity(cert, -1, days);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true },
  ]);
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), cert, key };
}

/** A CA read from PEM files' contents (e.g. the dev PKI's ca.pem and ca-key.pem). */
export function caFromPem(certPem: string, keyPem: string): TestCa {
  return {
    certPem,
    cert: forge.pki.certificateFromPem(certPem),
    key: forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey,
  };
}

export interface SignOptions {
  /** Days from now; negative for an expired certificate. */
  notAfterDays?: number;
  notBeforeDays?: number;
  clientAuth?: boolean;
}

/** Signs a PKCS#10 CSR (PEM) the way an operator's CA would. */
export function signCsr(ca: TestCa, csrPem: string, options: SignOptions = {}): string {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  if (!csr.verify()) throw new Error('CSR signature does not verify');
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey as forge.pki.PublicKey;
  validity(cert, options.notBeforeDays ?? -1, options.notAfterDays ?? 365);
  cert.setSubject(csr.subject.attributes);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    options.clientAuth === false
      ? { name: 'extKeyUsage', serverAuth: true }
      : { name: 'extKeyUsage', clientAuth: true },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A certificate for a key that is not the cluster's. */
export function foreignClientCertificate(ca: TestCa): string {
  const { publicKey, privateKey } = newRsaPem();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey);
  csr.setSubject([{ name: 'commonName', value: 'someone else' }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return signCsr(ca, forge.pki.certificationRequestToPem(csr));
}
