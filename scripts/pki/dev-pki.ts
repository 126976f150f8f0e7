// Throwaway development PKI for KMIP tests and the dev key server: a CA, a server
// certificate for 127.0.0.1/::1/localhost, client certificates with clientAuth (two CNs,
// since KMIP servers own objects by CN), a client without clientAuth, and an unrelated
// CA with its own server and client. Never for production: keys are written unencrypted.
//
//   node dist/scripts/pki/dev-pki.js DIR
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface PkiIdentity {
  cert: string;
  key: string;
}

/** Paths of the files written into the PKI directory. */
export interface DevPki {
  dir: string;
  ca: string;
  server: PkiIdentity;
  /** clientAuth, CN storage-node-1. */
  client: PkiIdentity;
  /** clientAuth, CN storage-node-2: a second owner. */
  client2: PkiIdentity;
  /** serverAuth only: KMIP servers must refuse it. */
  noClientAuth: PkiIdentity;
  /** A CA nobody trusts, with a server and a client it signed. */
  untrustedCa: string;
  untrustedServer: PkiIdentity;
  untrustedClient: PkiIdentity;
}

interface Issued {
  certPem: string;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  keyPem: string;
}

type Usage = 'ca' | 'server' | 'client' | 'serverOnly';

const generateRsa = promisify(generateKeyPair);

/** RSA-2048 PEM, made natively off the main thread (forge's pure-JS keygen takes seconds). */
async function newKeyPem(): Promise<string> {
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

function issue(cn: string, usage: Usage, keyPem: string, issuer?: Issued): Issued {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive serial: clear the top bit of 16 random bytes.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 3600_000);
  const subject = [
    { name: 'commonName', value: cn },
    { name: 'organizationName', value: 'ekmd dev' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : subject);
  const extensions: object[] = [{ name: 'subjectKeyIdentifier' }];
  if (usage === 'ca') {
    extensions.push(
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    );
  } else {
    extensions.push(
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      {
        name: 'extKeyUsage',
        serverAuth: usage !== 'client',
        clientAuth: usage === 'client',
      },
    );
  }
  if (usage === 'server') {
    extensions.push({
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
        { type: 2, value: 'localhost' },
      ],
    });
  }
  cert.setExtensions(extensions);
  cert.sign(issuer ? issuer.key : key, forge.md.sha256.create());
  return { cert, certPem: forge.pki.certificateToPem(cert), key, keyPem };
}

function save(dir: string, name: string, issued: Issued): PkiIdentity {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  writeFileSync(cert, issued.certPem, { mode: 0o644 });
  writeFileSync(key, issued.keyPem, { mode: 0o600 });
  return { cert, key };
}

/** The paths makeDevPki writes into dir: the PKI of a directory made earlier. */
export function devPkiPaths(dir: string): DevPki {
  const at = (name: string): PkiIdentity => ({
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}-key.pem`),
  });
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    server: at('server'),
    client: at('client'),
    client2: at('client2'),
    noClientAuth: at('no-client-auth'),
    untrustedCa: join(dir, 'untrusted-ca.pem'),
    untrustedServer: at('untrusted-server'),
    untrustedClient: at('untrusted-client'),
  };
}

/** Generate the whole dev PKI into dir (created if missing); about a second on 2 cores. */
export async function makeDevPki(dir: string): Promise<DevPki> {
  mkdirSync(dir, { recursive: true });
  const keys = await Promise.all(Array.from({ length: 8 }, newKeyPem));
  const next = (): string => keys.pop()!;
  const ca = issue('ekmd dev CA', 'ca', next());
  const other = issue('untrusted dev CA', 'ca', next());
  const caPaths = save(dir, 'ca', ca);
  const otherPaths = save(dir, 'untrusted-ca', other);
  return {
    dir,
    ca: caPaths.cert,
    server: save(dir, 'server', issue('127.0.0.1', 'server', next(), ca)),
    client: save(dir, 'client', issue('storage-node-1', 'client', next(), ca)),
    client2: save(dir, 'client2', issue('storage-node-2', 'client', next(), ca)),
    noClientAuth: save(dir, 'no-client-auth', issue('storage-node-3', 'serverOnly', next(), ca)),
    untrustedCa: otherPaths.cert,
    untrustedServer: save(dir, 'untrusted-server', issue('127.0.0.1', 'server', next(), other)),
    untrustedClient: save(
      dir,
      'untrusted-client',
      issue('storage-node-1', 'client', next(), other),
    ),
  };
}

export interface ClientCertOptions {
  /** How long from now the certificate stays valid; a year by default. */
  validForMs?: number;
  /** false: serverAuth only, which KMIP servers must refuse. Default true. */
  clientAuth?: boolean;
}

/**
 * Signs a node's CSR (e.g. GetClientCertificateSignRequest) with the dev CA in pkiDir, for
 * fault tests: a certificate expiring seconds from now, or one without clientAuth.
 */
export function signClientCsr(
  pkiDir: string,
  csrPem: string,
  opts: ClientCertOptions = {},
): string {
  const ca = forge.pki.certificateFromPem(readFileSync(join(pkiDir, 'ca.pem'), 'utf8'));
  const caKey = forge.pki.privateKeyFromPem(readFileSync(join(pkiDir, 'ca-key.pem'), 'utf8'));
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  if (!csr.verify()) throw new Error('the CSR does not verify');
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey as forge.pki.PublicKey;
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + (opts.validForMs ?? 365 * 24 * 3600_000));
  cert.setSubject(csr.subject.attributes);
  cert.setIssuer(ca.subject.attributes);
  const clientAuth = opts.clientAuth ?? true;
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth, serverAuth: !clientAuth },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir || dir.startsWith('-')) {
    process.stderr.write('usage: dev-pki DIR   (writes a throwaway development PKI)\n');
    process.exitCode = 2;
  } else {
    makeDevPki(dir).then(
      (pki) => process.stdout.write(`${JSON.stringify(pki, null, 2)}\n`),
      (err: unknown) => {
        process.stderr.write(`dev-pki: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
  }
}
