// A self-signed TLS identity made once and kept in stateDir: the certificate in the clear,
// its private key sealed under the node's own sealing root. The API serves one when the
// operator names no certificate; nodes present one to each other (cluster/node-link). The
// private key is a KeyObject or PEM bytes in a Buffer, never a string (private-key.ts).
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../util/atomic-file';
import {
  generateRsaKeyPair,
  loadForge,
  privateKeyPem,
  publicKeyPem,
  signCertificate,
} from './private-key';
import type { Sealer } from './sealer';

export interface TlsIdentity {
  cert: string;
  /** PEM bytes: the caller zeroes them once the TLS context holds the key. */
  key: Buffer;
}

/** Which files keep an identity, the label its key is sealed under, and what it names. */
export interface KeptIdentitySpec {
  certFile: string;
  sealedKeyFile: string;
  label: string;
  commonName: string;
  /** Subject alternative names: DNS names and IP addresses. */
  dnsNames: string[];
  ips: string[];
  usage: { serverAuth?: boolean; clientAuth?: boolean };
  validDays: number;
}

/** The kept identity, or a new one when there is none or it has expired. */
export async function keptSelfSignedIdentity(
  stateDir: string,
  sealer: Sealer,
  spec: KeptIdentitySpec,
  logger?: Logger,
): Promise<TlsIdentity> {
  const kept = readKeptIdentity(stateDir, sealer, spec);
  if (kept) return kept;
  const identity = await create(spec);
  writeFileAtomic(join(stateDir, spec.sealedKeyFile), sealer.seal(identity.key, spec.label), 0o600);
  writeFileAtomic(join(stateDir, spec.certFile), Buffer.from(identity.cert), 0o644);
  logger?.info({ file: spec.certFile }, 'created a self-signed certificate');
  return identity;
}

/** The kept identity, none when there is none or it has expired; never makes one. */
export function readKeptIdentity(
  stateDir: string,
  sealer: Sealer,
  spec: Pick<KeptIdentitySpec, 'certFile' | 'sealedKeyFile' | 'label'>,
): TlsIdentity | undefined {
  let cert: string;
  let sealed: Buffer;
  try {
    cert = readFileSync(join(stateDir, spec.certFile), 'utf8');
    sealed = readFileSync(join(stateDir, spec.sealedKeyFile));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (new Date(new X509Certificate(cert).validTo).getTime() <= Date.now()) return undefined;
  return { cert, key: sealer.unseal(sealed, spec.label) };
}

async function create(spec: KeptIdentitySpec): Promise<TlsIdentity> {
  const { publicKey, privateKey } = await generateRsaKeyPair();
  const forge = loadForge();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem(publicKey));
  // A positive serial: the top bit clear.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + spec.validDays * 24 * 60 * 60 * 1000);
  const subject = [{ name: 'commonName', value: spec.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', ...spec.usage },
    {
      name: 'subjectAltName',
      altNames: [
        ...spec.dnsNames.map((value) => ({ type: 2, value })),
        ...spec.ips.map((ip) => ({ type: 7, ip })),
      ],
    },
  ]);
  signCertificate(forge, cert, privateKey);
  return {
    cert: forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n'),
    key: privateKeyPem(privateKey),
  };
}
