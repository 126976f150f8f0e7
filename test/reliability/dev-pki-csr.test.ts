// The dev PKI signs a node's CSR the ways the fault matrix needs: a normal client
// certificate, one expiring seconds from now, one without clientAuth.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import t from 'tap';
import { makeDevPki, signClientCsr } from '../../scripts/pki/dev-pki';

function csrPem(cn: string): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(
    publicKey.export({ type: 'spki', format: 'pem' }) as string,
  );
  csr.setSubject([{ name: 'commonName', value: cn }]);
  csr.sign(
    forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string),
    forge.md.sha256.create(),
  );
  return forge.pki.certificationRequestToPem(csr);
}

t.test('signClientCsr: lifetime and extended key usage as asked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-pki-csr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await makeDevPki(dir);
  const ca = new X509Certificate(readFileSync(pki.ca));
  const csr = csrPem('storage-node-1');

  const normal = new X509Certificate(signClientCsr(dir, csr));
  t.ok(normal.verify(ca.publicKey), 'signed by the dev CA');
  t.match(normal.subject, /CN=storage-node-1/);
  t.ok(Date.parse(normal.validTo) > Date.now() + 300 * 24 * 3600_000, 'valid about a year');
  t.same(normal.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'clientAuth only');

  const short = new X509Certificate(signClientCsr(dir, csr, { validForMs: 5000 }));
  const left = Date.parse(short.validTo) - Date.now();
  t.ok(left > 0 && left <= 6000, `expires in ${left} ms`);

  const server = new X509Certificate(signClientCsr(dir, csr, { clientAuth: false }));
  t.same(server.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth, no clientAuth');

  // One signature byte changed: the CSR no longer verifies.
  const forged = forge.pki.certificationRequestFromPem(csr);
  const sig = forged.signature as string;
  forged.signature = String.fromCharCode(sig.charCodeAt(0) ^ 1) + sig.slice(1);
  const tampered = forge.pki.certificationRequestToPem(forged);
  t.throws(() => signClientCsr(dir, tampered), 'a CSR that does not verify is refused');
});
