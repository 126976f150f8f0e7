// Without an operator certificate the API serves a self-signed one, made once and kept in
// stateDir: the certificate in the clear, its private key sealed. Element clients
// (the SDK's default, Trident) do not verify the API's certificate anyway. The private
// key is a KeyObject or PEM bytes in a Buffer, never a string (cluster/private-key.ts).
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  generateRsaKeyPair,
  loadForge,
  privateKeyPem,
  publicKeyPem,
  signCertificate,
} from '../cluster/private-key';
import type { Sealer } from '../cluster/sealer';
import { writeFileAtomic } from '../util/atomic-file';
import { API_CERT_FILE, API_SEALED_KEY_FILE } from '../store/state-files';

export const SEAL_LABEL = 'api/tls/privateKey';
const VALID_DAYS = 825;

export interface TlsIdentity {
  cert: string;
  /** PEM bytes: the caller zeroes them once the TLS context holds the key. */
  key: Buffer;
}

/** The kept identity, or a new one when there is none or it has expired. */
export async function selfSignedIdentity(
  stateDir: string,
  sealer: Sealer,
  logger?: Logger,
): Promise<TlsIdentity> {
  const kept = readKept(stateDir, sealer);
  if (kept) return kept;
  const identity = await create();
  writeFileAtomic(
    join(stateDir, API_SEALED_KEY_FILE),
    sealer.seal(identity.key, SEAL_LABEL),
    0o600,
  );
  writeFileAtomic(join(stateDir, API_CERT_FILE), Buffer.from(identity.cert), 0o644);
  logger?.info({ file: API_CERT_FILE }, 'created a self-signed API certificate');
  return identity;
}

function readKept(stateDir: string, sealer: Sealer): TlsIdentity | undefined {
  let cert: string;
  let sealed: Buffer;
  try {
    cert = readFileSync(join(stateDir, API_CERT_FILE), 'utf8');
    sealed = readFileSync(join(stateDir, API_SEALED_KEY_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (new Date(new X509Certificate(cert).validTo).getTime() <= Date.now()) return undefined;
  return { cert, key: sealer.unseal(sealed, SEAL_LABEL) };
}

async function create(): Promise<TlsIdentity> {
  const { publicKey, privateKey } = await generateRsaKeyPair();
  const forge = loadForge();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem(publicKey));
  // A positive serial: the top bit clear.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + VALID_DAYS * 24 * 60 * 60 * 1000);
  const subject = [{ name: 'commonName', value: hostname() }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: hostname() },
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
  ]);
  signCertificate(forge, cert, privateKey);
  return {
    cert: forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n'),
    key: privateKeyPem(privateKey),
  };
}
