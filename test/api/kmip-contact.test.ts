// Test*, Modify and AddKeyServerToProvider against a real KMIP server (PyKMIP) with the
// dev PKI: the cluster's CSR signed by the dev CA, as an operator would do.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { startPykmip } from '../../scripts/pykmip/pykmip-server';
import { KmipKeyServerTester } from '../../src/cluster/key-servers/kmip-tester';
import { caFromPem, signCsr } from '../cluster/pki';
import { recordLiveKey, type ClusterPki } from './fixtures';
import { startNode } from './node';

t.test('key servers and providers against PyKMIP', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ekmd-kmip-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const pkiFiles = await makeDevPki(join(work, 'pki'));
  const kms = await startPykmip({
    dir: join(work, 'pykmip'),
    pki: { ca: pkiFiles.ca, server: pkiFiles.server, client: pkiFiles.client },
  });
  t.teardown(() => kms.stop(500));

  const node = await startNode(
    t,
    new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  );
  const { client } = node;
  const read = (p: string) => readFileSync(p, 'utf8');
  const ca = caFromPem(read(pkiFiles.ca), read(join(pkiFiles.dir, 'ca-key.pem')));
  const untrustedCa = caFromPem(
    read(pkiFiles.untrustedCa),
    read(join(pkiFiles.dir, 'untrusted-ca-key.pem')),
  );
  await client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
  const csr = (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest;
  const pki: ClusterPki = { ca, clientCertificate: signCsr(ca, csr) };
  const server = (overrides: Record<string, unknown> = {}) => ({
    kmipCaCertificate: ca.certPem,
    kmipClientCertificate: pki.clientCertificate,
    kmipKeyServerHostnames: ['127.0.0.1'],
    kmipKeyServerName: 'pykmip',
    kmipKeyServerPort: kms.port,
    ...overrides,
  });
  const create = async (overrides: Record<string, unknown> = {}) =>
    (await client.ok('CreateKeyServerKmip', server(overrides))).kmipKeyServer.keyServerID as number;
  const testFailure = async (keyServerID: number) =>
    (await client.call('TestKeyServerKmip', { keyServerID })).error;

  const good = await create();

  t.test('TestKeyServerKmip passes with the signed CSR and the right CA', async (t) => {
    t.same(await client.ok('TestKeyServerKmip', { keyServerID: good }), {});
  });

  t.test('TestKeyServerKmip names the failing step', async (t) => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'a CA that did not issue the server certificate',
        { kmipCaCertificate: untrustedCa.certPem },
        /at step tls/,
      ],
      [
        'a client certificate without clientAuth',
        { kmipClientCertificate: signCsr(ca, csr, { clientAuth: false }) },
        /at step auth: .*unsupported certificate/,
      ],
      [
        'a client certificate from a CA the server does not trust',
        { kmipClientCertificate: signCsr(untrustedCa, csr) },
        /at step auth: .*unknown ca/,
      ],
      ['nothing listening', { kmipKeyServerPort: 1 }, /at step connect/],
      [
        'one of two hostnames dead',
        { kmipKeyServerHostnames: ['127.0.0.1', '127.0.0.2'] },
        /at step connect/,
      ],
    ];
    for (const [why, overrides, step] of cases) {
      const id = await create(overrides);
      const error = await testFailure(id);
      t.equal(error?.name, 'xKeyServerTestFailed', why);
      t.match(error?.message, step, why);
      t.notMatch(error?.message, /PRIVATE KEY/);
    }
  });

  t.test('ModifyKeyServerKmip applies settings the server accepts, and only those', async (t) => {
    const { kmipKeyServer } = await client.ok('ModifyKeyServerKmip', {
      keyServerID: good,
      kmipKeyServerName: 'renamed',
    });
    t.equal(kmipKeyServer.kmipKeyServerName, 'renamed');
    const before = node.snapshot();
    const reply = await client.call('ModifyKeyServerKmip', {
      keyServerID: good,
      kmipCaCertificate: untrustedCa.certPem,
    });
    t.equal(reply.error?.name, 'xKeyServerTestFailed');
    t.match(reply.error?.message, /at step tls/);
    t.ok(node.snapshot() === before, 'a failed contact changes nothing');
  });

  t.test('providers: add, no-op add, failed add, test, active rules, restart', async (t) => {
    const provider = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'pykmip' }))
      .kmipKeyProvider.keyProviderID;
    t.same(
      await client.ok('AddKeyServerToProviderKmip', { keyProviderID: provider, keyServerID: good }),
      {},
    );
    const view = async () =>
      (await client.ok('GetKeyProviderKmip', { keyProviderID: provider })).kmipKeyProvider;
    t.same((await view()).keyServerIDs, [good]);
    t.equal(
      (await client.ok('GetKeyServerKmip', { keyServerID: good })).kmipKeyServer.keyProviderID,
      provider,
    );

    let before = node.snapshot();
    t.same(
      await client.ok('AddKeyServerToProviderKmip', { keyProviderID: provider, keyServerID: good }),
      {},
    );
    t.ok(node.snapshot() === before, 'adding an assigned server is a no-op');

    const broken = await create({ kmipCaCertificate: untrustedCa.certPem });
    before = node.snapshot();
    const failed = await client.call('AddKeyServerToProviderKmip', {
      keyProviderID: provider,
      keyServerID: broken,
    });
    t.equal(failed.error?.name, 'xKeyServerTestFailed');
    t.ok(node.snapshot() === before, 'a server that does not answer is not added');

    const other = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'other' }))
      .kmipKeyProvider.keyProviderID;
    const taken = await client.call('AddKeyServerToProviderKmip', {
      keyProviderID: other,
      keyServerID: good,
    });
    t.equal(taken.error?.name, 'xKeyServerAlreadyAssigned');

    t.same(await client.ok('TestKeyProviderKmip', { keyProviderID: provider }), {});

    await recordLiveKey(node, provider);
    t.equal((await view()).keyProviderIsActive, true);
    t.equal(
      (await client.ok('GetKeyServerKmip', { keyServerID: good })).kmipKeyServer
        .kmipAssignedProviderIsActive,
      true,
    );
    const listed = async (p: Record<string, unknown>) =>
      (await client.ok('ListKeyServersKmip', p)).kmipKeyServers.map(
        (s: { keyServerID: number }) => s.keyServerID,
      );
    t.same(await listed({ kmipAssignedProviderIsActive: true }), [good]);
    t.same(await listed({ keyProviderID: provider }), [good]);
    t.same(await listed({ kmipHasProviderAssigned: true }), [good]);

    before = node.snapshot();
    for (const [method, params, name] of [
      ['DeleteKeyProviderKmip', { keyProviderID: provider }, 'xKeyProviderIsActive'],
      [
        'RemoveKeyServerFromProviderKmip',
        { keyServerID: good },
        'xKeyServerIsLastOfActiveProvider',
      ],
      ['DeleteKeyServerKmip', { keyServerID: good }, 'xKeyServerIsLastOfActiveProvider'],
    ] as const) {
      t.equal((await client.call(method, params)).error?.name, name, method);
    }
    t.ok(node.snapshot() === before, 'refused changes change nothing');

    const second = await create({ kmipKeyServerName: 'second' });
    await client.ok('AddKeyServerToProviderKmip', { keyProviderID: provider, keyServerID: second });
    t.same(
      await client.ok('RemoveKeyServerFromProviderKmip', { keyServerID: good }),
      {},
      'not the last one any more',
    );
    t.same((await view()).keyServerIDs, [second]);

    await node.restart();
    const after = (await node.client.ok('GetKeyProviderKmip', { keyProviderID: provider }))
      .kmipKeyProvider;
    t.same(after.keyServerIDs, [second]);
    t.equal(after.keyProviderIsActive, true);
    t.same(
      await node.client.ok('TestKeyProviderKmip', { keyProviderID: provider }),
      {},
      'still works after restart',
    );

    await node.store.put('keys/k-1', { keyID: 'k-1', keyProviderID: provider, state: 'destroyed' });
    t.same(await node.client.ok('DeleteKeyProviderKmip', { keyProviderID: provider }), {});
    const orphan = (await node.client.ok('GetKeyServerKmip', { keyServerID: second }))
      .kmipKeyServer;
    t.equal(orphan.keyProviderID, null, 'deleting a provider unassigns its servers');
  });
});
