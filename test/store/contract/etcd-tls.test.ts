// Mutual TLS to a real etcd member started with --client-cert-auth, using a throwaway
// test CA (scripts/pki/dev-pki.ts); then etcd's own access control, where a client
// certificate's CN is the etcd user: a prefix its role does not cover is refused.
import t from 'tap';
import { Etcd3, Range } from 'etcd3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { StoreAccessError, StoreError, StoreUnavailableError } from '../../../src/store';
import { openEtcdStore } from '../../../src/store/etcd';
import { startEtcd } from '../../../scripts/etcd/members';
import { tempDir } from '../tmpdir';
import { refusal } from './helpers';

void (async () => {
  const pki = await makeDevPki(join(tempDir(t), 'pki'));
  const cluster = await startEtcd(t, {
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key, clientCertAuth: true },
  });
  t.comment(`one TLS etcd member healthy in ${cluster.startMs} ms`);
  const endpoints = cluster.endpoints;
  const asNode1 = { ca: pki.ca, cert: pki.client.cert, key: pki.client.key };

  t.test('mutual TLS: the node certificate opens the store; others are refused', async (t) => {
    const store = await openEtcdStore(
      { endpoints, prefix: '/ekmd/tls/', tls: asNode1 },
      { create: true, requestTimeoutMs: 3000 },
    );
    t.teardown(() => store.close());
    const r = await store.put('k', { over: 'tls' });
    t.same(store.get('k'), { key: 'k', value: { over: 'tls' }, revision: r });
    const refusals: [string, { ca: string; cert: string; key: string }][] = [
      ['a client certificate from another CA', { ...asNode1, ...pki.untrustedClient }],
      ['a certificate without clientAuth', { ...asNode1, ...pki.noClientAuth }],
      ['a CA that did not sign the server', { ...asNode1, ca: pki.untrustedCa }],
    ];
    for (const [what, tls] of refusals) {
      const err = await refusal(() =>
        openEtcdStore({ endpoints, prefix: '/ekmd/tls/', tls }, { requestTimeoutMs: 3000 }),
      );
      t.ok(err instanceof StoreUnavailableError, `${what}: ${err.message}`);
      t.match(err.message, endpoints[0], `${what}: names the endpoint`);
    }
    const noTls = await refusal(() =>
      openEtcdStore(
        { endpoints: [endpoints[0].replace('https', 'http')], prefix: '/ekmd/tls/' },
        { requestTimeoutMs: 3000 },
      ),
    );
    t.ok(noTls instanceof StoreError, `plain http to a TLS member: ${noTls.message}`);
    t.notMatch(
      noTls.message,
      readFileSync(pki.client.key, 'utf8').slice(40, 80),
      'no key material',
    );
  });

  t.test('permission denied: a prefix outside the role of the certificate', async (t) => {
    const tlsCredentials = {
      rootCertificate: readFileSync(pki.ca),
      certChain: readFileSync(pki.client.cert),
      privateKey: readFileSync(pki.client.key),
    };
    const admin = new Etcd3({ hosts: endpoints, credentials: tlsCredentials });
    t.teardown(() => admin.close());
    await admin.role('root').create();
    await (await admin.user('root').create('root-password')).addRole('root');
    await admin.role('ekmd-a').create();
    await admin.role('ekmd-a').grant({ permission: 'Readwrite', range: Range.prefix('/ekmd/a/') });
    // The client certificate's CN is storage-node-1: etcd takes it as the user.
    await (await admin.user('storage-node-1').create('unused-password')).addRole('ekmd-a');
    await admin.auth.authEnable();

    const allowed = await openEtcdStore(
      { endpoints, prefix: '/ekmd/a/', tls: asNode1 },
      { create: true, requestTimeoutMs: 3000 },
    );
    t.teardown(() => allowed.close());
    await allowed.put('inside', 1);
    t.equal(allowed.get('inside')!.value, 1, 'its own prefix works');

    const err = await refusal(() =>
      openEtcdStore(
        { endpoints, prefix: '/ekmd/b/', tls: asNode1 },
        { create: true, requestTimeoutMs: 3000 },
      ),
    );
    t.ok(err instanceof StoreAccessError, err.message);
    t.match(err.message, `etcd at ${endpoints[0]} (prefix /ekmd/b/)`);
    t.match(err.message, 'permission denied');
  });
})();
