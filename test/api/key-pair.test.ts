import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { ContactRecorder, recordLiveKey } from './fixtures';
import { startNode } from './node';

const subject = {
  commonName: 'storage-node-1',
  country: 'US',
  emailAddress: 'ops@example.com',
  locality: 'Boulder',
  organization: 'Example',
  organizationalUnit: 'Storage',
  state: 'Colorado',
};

t.test('CreatePublicPrivateKeyPair and GetClientCertificateSignRequest', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const { client } = node;

  t.test('no key pair yet: no CSR', async (t) => {
    const reply = await client.call('GetClientCertificateSignRequest');
    t.equal(reply.error?.name, 'xKeyPairDoesNotExist');
  });

  t.test('wrong parameters are refused and change nothing', async (t) => {
    const before = node.snapshot();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ country: 'USA' }, /country/],
      [{ country: 1 }, /country/],
      [{ commonName: 5 }, /commonName/],
      [{ commonName: '' }, /commonName/],
      [{ organization: 'x'.repeat(65) }, /organization/],
      [{ emailAddress: ['a'] }, /emailAddress/],
    ];
    for (const [p, message] of cases) {
      const reply = await client.call('CreatePublicPrivateKeyPair', p);
      t.equal(reply.error?.name, 'xInvalidParameter', JSON.stringify(p));
      t.match(reply.error?.message, message);
    }
    t.ok(node.snapshot() === before, 'the store is unchanged');
  });

  let firstCsr = '';
  t.test('creates an RSA 2048 key pair; the CSR is PEM PKCS#10 with the subject', async (t) => {
    t.same(await client.ok('CreatePublicPrivateKeyPair', subject), {});
    const { clientCertificateSignRequest: pem } = await client.ok(
      'GetClientCertificateSignRequest',
    );
    t.match(
      pem,
      /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/,
    );
    const csr = forge.pki.certificationRequestFromPem(pem);
    t.ok(csr.verify(), 'signed by the key it carries');
    t.equal((csr.publicKey as forge.pki.rsa.PublicKey).n.bitLength(), 2048);
    const field = (n: string) => csr.subject.getField(n)?.value;
    t.equal(field('CN'), 'storage-node-1');
    t.equal(field('C'), 'US');
    t.equal(field('E'), 'ops@example.com');
    t.equal(field('L'), 'Boulder');
    t.equal(field('O'), 'Example');
    t.equal(field('OU'), 'Storage');
    t.equal(field('ST'), 'Colorado');
    firstCsr = pem;
  });

  t.test('the private key is never stored or written in plaintext', async (t) => {
    t.notMatch(node.snapshot(), /PRIVATE KEY|MII[EJ]/, 'store values hold only sealed bytes');
    for (const f of readdirSync(node.dir)) {
      const bytes = readFileSync(join(node.dir, f)).toString('latin1');
      t.notMatch(bytes, 'PRIVATE KEY', f);
    }
  });

  t.test('a restart keeps the key pair', async (t) => {
    await node.restart();
    const { clientCertificateSignRequest: pem } = await node.client.ok(
      'GetClientCertificateSignRequest',
    );
    const key = (p: string) =>
      forge.pki.publicKeyToPem(
        forge.pki.certificationRequestFromPem(p).publicKey as forge.pki.PublicKey,
      );
    t.equal(key(pem), key(firstCsr));
  });

  t.test('replacing it is refused while a provider is active, allowed otherwise', async (t) => {
    const { kmipKeyProvider } = await node.client.ok('CreateKeyProviderKmip', {
      keyProviderName: 'p',
    });
    await recordLiveKey(node, kmipKeyProvider.keyProviderID);
    const before = node.snapshot();
    const refused = await node.client.call('CreatePublicPrivateKeyPair', { commonName: 'x' });
    t.equal(refused.error?.name, 'xKeyPairInUse');
    t.ok(node.snapshot() === before, 'the store is unchanged');
    await node.store.put('keys/k-1', {
      keyID: 'k-1',
      keyProviderID: kmipKeyProvider.keyProviderID,
      state: 'destroyed',
    });
    t.same(await node.client.ok('CreatePublicPrivateKeyPair', { commonName: 'x' }), {});
    const { clientCertificateSignRequest: pem } = await node.client.ok(
      'GetClientCertificateSignRequest',
    );
    t.not(pem, firstCsr, 'a new key pair');
  });
});
