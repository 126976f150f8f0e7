// TestKeyServerKmip against the dev key server, whose fault injection makes a server fail
// at each step an operator needs told apart.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { KmipKeyServerTester } from '../../src/cluster/key-servers/kmip-tester';
import { DevKmipServer } from '../../src/kmip/server';
import { ResultReason } from '../../src/kmip/ttlv';
import { caFromPem, signCsr } from '../cluster/pki';
import { startNode } from './node';

t.test('TestKeyServerKmip against the dev key server', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ekmd-devkms-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const pki = await makeDevPki(join(work, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const kms = await DevKmipServer.start({
    stateDir: join(work, 'kms'),
    host: '127.0.0.1',
    port: 0,
    ca: read(pki.ca),
    cert: read(pki.server.cert),
    key: read(pki.server.key),
  });
  t.teardown(() => kms.close());

  const tester = new KmipKeyServerTester({ connectTimeoutMs: 700, requestTimeoutMs: 700 });
  const node = await startNode(t, tester);
  const { client } = node;
  await client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
  const csr = (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest;
  const ca = caFromPem(read(pki.ca), read(join(pki.dir, 'ca-key.pem')));
  const { kmipKeyServer } = await client.ok('CreateKeyServerKmip', {
    kmipCaCertificate: ca.certPem,
    kmipClientCertificate: signCsr(ca, csr),
    kmipKeyServerHostnames: ['127.0.0.1'],
    kmipKeyServerName: 'dev',
    kmipKeyServerPort: kms.address.port,
  });
  const test = () => client.call('TestKeyServerKmip', { keyServerID: kmipKeyServer.keyServerID });

  t.test('a healthy server passes', async (t) => {
    t.same((await test()).result, {});
  });

  const cases: [string, DevKmipServer['fault'], RegExp][] = [
    ['refused connections', { kind: 'refuse' }, /at step (connect|tls):/],
    ['a black hole', { kind: 'stall' }, /at step (connect|tls):/],
    ['garbage instead of TTLV', { kind: 'garbage' }, /at step discoverVersions:/],
    [
      'every operation refused',
      { kind: 'reason', reason: ResultReason.PermissionDenied, name: 'PermissionDenied' },
      /at step discoverVersions:/,
    ],
  ];
  for (const [why, fault, step] of cases) {
    t.test(`${why}: the failing step is named`, async (t) => {
      kms.fault = fault;
      t.teardown(() => {
        kms.fault = { kind: 'none' };
        kms.dropConnections();
      });
      const reply = await test();
      t.equal(reply.error?.name, 'xKeyServerTestFailed');
      t.match(reply.error?.message, step);
    });
  }

  t.test('healthy again once the fault clears', async (t) => {
    t.same((await test()).result, {});
  });
});
