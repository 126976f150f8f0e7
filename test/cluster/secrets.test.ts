// The cluster private key: sealed at rest, handed out only inside withPrivateKeyPem and
// zeroed as soon as its user settles, including the key server tester's copy.
import t from 'tap';
import { KeyServerService } from '../../src/cluster/key-servers/key-servers';
import type { KeyServerEndpoint } from '../../src/cluster/key-servers/key-server-tester';
import { storeWithKeyPair } from './fixtures/store-with-key-pair';
import { makeCa, signCsr } from './pki';

const isZero = (b: Buffer) => b.length > 0 && b.every((x) => x === 0);

t.test('private key handling', async (t) => {
  const { store, keyPair } = await storeWithKeyPair(t, 'cluster');

  t.test('withPrivateKeyPem zeroes the key after a synchronous use', async (t) => {
    let seen: Buffer | undefined;
    const result = keyPair.withPrivateKeyPem((pem) => {
      seen = pem;
      return pem.toString('latin1').includes('BEGIN PRIVATE KEY');
    });
    t.equal(result, true, 'the user saw the PEM');
    t.ok(seen && isZero(seen), 'zeroed afterwards');
  });

  t.test('…after an asynchronous use, and after a throwing one', async (t) => {
    let seen: Buffer | undefined;
    await keyPair.withPrivateKeyPem(async (pem) => {
      seen = pem;
      await new Promise((r) => setImmediate(r));
      t.notOk(isZero(pem), 'intact while in use');
    });
    t.ok(seen && isZero(seen), 'zeroed once the promise settled');
    t.throws(() =>
      keyPair.withPrivateKeyPem((pem) => {
        seen = pem;
        throw new Error('boom');
      }),
    );
    t.ok(seen && isZero(seen), 'zeroed after a throw');
  });

  t.test('the key server tester gets the key, zeroed once the test settles', async (t) => {
    const ca = makeCa('unit CA');
    const clientCertificate = signCsr(ca, keyPair.certificateSignRequest());
    const endpoints: KeyServerEndpoint[] = [];
    const tester = {
      test: async (endpoint: KeyServerEndpoint) => {
        endpoints.push(endpoint);
        t.match(endpoint.clientKey.toString('latin1'), 'BEGIN PRIVATE KEY');
        return { ok: true as const, kmipVersion: '1.4' };
      },
    };
    const servers = new KeyServerService(store, keyPair, tester);
    const created = await servers.create({
      kmipCaCertificate: ca.certPem,
      kmipClientCertificate: clientCertificate,
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: 'kms',
    });
    await servers.test(created.keyServerID);
    t.equal(endpoints.length, 1);
    t.ok(isZero(endpoints[0].clientKey), "the tester's key buffer is zeroed");
    t.equal(endpoints[0].clientCertificate, clientCertificate);
  });

  t.test('the stored record holds only the sealed key', async (t) => {
    const stored = JSON.stringify(store.list(''));
    t.notMatch(stored, 'PRIVATE KEY');
    t.match(stored, 'BEGIN PUBLIC KEY');
  });
});
