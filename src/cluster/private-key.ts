// Private keys without JS strings: a string cannot be zeroed and lingers in the heap
// until the collector reuses its memory. Keys are generated as KeyObjects (held by
// OpenSSL), exported as DER into Buffers, armoured as PEM byte by byte into a Buffer the
// caller zeroes, and sign with crypto.sign. node-forge only lays out the bodies of CSRs
// and certificates (public data); it never sees a private key.
import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type * as Forge from 'node-forge';

type ForgeModule = typeof Forge;

const generate = promisify(generateKeyPair);

/** An RSA-2048 key pair as KeyObjects: nothing of it is a string. */
export function generateRsaKeyPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return generate('rsa', { modulusLength: 2048 });
}

/** The public key as SPKI PEM (public: a string is fine). */
export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

/** `key` as PKCS#8 PEM bytes in a new Buffer the caller must zero; the DER is zeroed here. */
export function privateKeyPem(key: KeyObject): Buffer {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  try {
    return armour(der, 'PRIVATE KEY');
  } finally {
    der.fill(0);
  }
}

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const LINE_CHARS = 64;

/** PEM armour of `der`, written straight into a Buffer (base64 through no string). */
function armour(der: Buffer, label: string): Buffer {
  const head = Buffer.from(`-----BEGIN ${label}-----\n`);
  const tail = Buffer.from(`-----END ${label}-----\n`);
  const chars = Math.ceil(der.length / 3) * 4;
  const out = Buffer.alloc(head.length + chars + Math.ceil(chars / LINE_CHARS) + tail.length);
  let at = head.copy(out, 0);
  let column = 0;
  const put = (c: number) => {
    out[at++] = c;
    if (++column === LINE_CHARS) {
      out[at++] = 0x0a;
      column = 0;
    }
  };
  for (let i = 0; i < der.length; i += 3) {
    const n = (der[i] << 16) | ((der[i + 1] ?? 0) << 8) | (der[i + 2] ?? 0);
    put(ALPHABET[(n >> 18) & 63]);
    put(ALPHABET[(n >> 12) & 63]);
    put(i + 1 < der.length ? ALPHABET[(n >> 6) & 63] : 0x3d);
    put(i + 2 < der.length ? ALPHABET[n & 63] : 0x3d);
  }
  if (column !== 0) out[at++] = 0x0a;
  tail.copy(out, at);
  return out;
}

/** The parts of node-forge's typings that signing by hand needs (absent from @types). */
interface ForgePkiInternals {
  getCertificationRequestInfo(csr: Forge.pki.CertificateSigningRequest): Forge.asn1.Asn1;
  getTBSCertificate(cert: Forge.pki.Certificate): Forge.asn1.Asn1;
}

/** Signs a node-forge CSR as csr.sign(key, sha256) would, with crypto.sign and a KeyObject. */
export function signCsr(
  forge: ForgeModule,
  csr: Forge.pki.CertificateSigningRequest,
  key: KeyObject,
): void {
  csr.signatureOid = csr.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  const info = (forge.pki as unknown as ForgePkiInternals).getCertificationRequestInfo(csr);
  csr.certificationRequestInfo = info;
  csr.signature = signBody(forge, info, key);
}

/** Signs a node-forge certificate as cert.sign(key, sha256) would. */
export function signCertificate(
  forge: ForgeModule,
  cert: Forge.pki.Certificate,
  key: KeyObject,
): void {
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  const tbs = (forge.pki as unknown as ForgePkiInternals).getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  cert.signature = signBody(forge, tbs, key);
}

/** RSA PKCS#1 v1.5 with SHA-256 over the DER of `body`; forge wants a binary string. */
function signBody(forge: ForgeModule, body: Forge.asn1.Asn1, key: KeyObject): string {
  const der = Buffer.from(forge.asn1.toDer(body).getBytes(), 'binary');
  return sign('sha256', der, key).toString('binary');
}

/** node-forge takes ~140 ms to load; only CSRs and self-signed certificates need it. */
export function loadForge(): ForgeModule {
  return require('node-forge') as ForgeModule;
}
