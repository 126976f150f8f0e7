import t from 'tap';
import { makeCa, signCsr, foreignClientCertificate } from '../cluster/pki';
import { ContactRecorder, serverParams, withKeyPair } from './fixtures';
import { startNode } from './node';

t.test('KMIP key servers without contacting them', async (t) => {
  const recorder = new ContactRecorder();
  const node = await startNode(t, recorder);
  const { client } = node;

  t.test('CreateKeyServerKmip needs the cluster key pair first', async (t) => {
    const ca = makeCa('early CA');
    const reply = await client.call('CreateKeyServerKmip', {
      kmipCaCertificate: ca.certPem,
      kmipClientCertificate: ca.certPem,
      kmipKeyServerHostnames: ['kms'],
      kmipKeyServerName: 'kms',
    });
    t.equal(reply.error?.name, 'xKeyPairDoesNotExist');
    t.same(node.store.list('kmip/'), []);
  });

  const pki = await withKeyPair(node);

  t.test('creates a server without contacting it', async (t) => {
    const { kmipKeyServer } = await client.ok('CreateKeyServerKmip', serverParams(pki));
    t.same(kmipKeyServer, {
      keyServerID: 1,
      keyProviderID: null,
      kmipKeyServerName: 'kms-1',
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerPort: 5696,
      kmipCaCertificate: pki.ca.certPem,
      kmipClientCertificate: pki.clientCertificate,
      kmipAssignedProviderIsActive: null,
    });
    t.equal(recorder.contacts.length, 0, 'nothing contacted');
    const second = await client.ok(
      'CreateKeyServerKmip',
      serverParams(pki, {
        kmipKeyServerName: 'kms-2',
        kmipKeyServerPort: 15696,
        kmipKeyServerHostnames: ['a.example', '::1'],
      }),
    );
    t.equal(second.kmipKeyServer.keyServerID, 2);
    t.equal(second.kmipKeyServer.kmipKeyServerPort, 15696);
    const { kmipKeyServer: got } = await client.ok('GetKeyServerKmip', { keyServerID: 1 });
    t.same(got, kmipKeyServer);
    const { kmipKeyServers } = await client.ok('ListKeyServersKmip');
    t.same(
      kmipKeyServers.map((s: { keyServerID: number }) => s.keyServerID),
      [1, 2],
    );
  });

  t.test('wrong parameters are refused and change nothing', async (t) => {
    const before = node.snapshot();
    const expired = signCsr(
      pki.ca,
      (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest,
      {
        notBeforeDays: -30,
        notAfterDays: -1,
      },
    );
    const expiredCa = makeCa('old CA', -1);
    const cases: [string, Record<string, unknown>, string, RegExp][] = [];
    for (const k of [
      'kmipCaCertificate',
      'kmipClientCertificate',
      'kmipKeyServerHostnames',
      'kmipKeyServerName',
    ]) {
      const p: Record<string, unknown> = serverParams(pki);
      delete p[k];
      cases.push(['CreateKeyServerKmip', p, 'xMissingParameter', new RegExp(`\\[${k}\\]`)]);
    }
    const bad = (
      o: Record<string, unknown>,
      re: RegExp,
    ): [string, Record<string, unknown>, string, RegExp] => [
      'CreateKeyServerKmip',
      serverParams(pki, o),
      'xInvalidParameter',
      re,
    ];
    cases.push(
      bad({ kmipCaCertificate: 'not a certificate' }, /kmipCaCertificate: no PEM/),
      bad(
        { kmipCaCertificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' },
        /kmipCaCertificate: certificate 1 does not parse/,
      ),
      bad(
        { kmipCaCertificate: pki.ca.certPem + expiredCa.certPem },
        /kmipCaCertificate: .*expired/,
      ),
      bad(
        { kmipClientCertificate: foreignClientCertificate(pki.ca) },
        /kmipClientCertificate: .*not the cluster's key pair/,
      ),
      bad({ kmipClientCertificate: expired }, /kmipClientCertificate: .*expired/),
      bad({ kmipKeyServerHostnames: [] }, /kmipKeyServerHostnames/),
      bad({ kmipKeyServerHostnames: 'kms' }, /kmipKeyServerHostnames/),
      bad({ kmipKeyServerHostnames: ['kms one'] }, /kmipKeyServerHostnames\[0\]/),
      bad({ kmipKeyServerHostnames: ['ok', 5] }, /kmipKeyServerHostnames\[1\]/),
      bad({ kmipKeyServerName: '' }, /kmipKeyServerName/),
      bad({ kmipKeyServerPort: 0 }, /kmipKeyServerPort/),
      bad({ kmipKeyServerPort: 65536 }, /kmipKeyServerPort/),
      bad({ kmipKeyServerPort: '5696' }, /kmipKeyServerPort/),
      bad({ kmipKeyServerPort: 56.5 }, /kmipKeyServerPort/),
      ['ModifyKeyServerKmip', {}, 'xMissingParameter', /\[keyServerID\]/],
      ['ModifyKeyServerKmip', { keyServerID: '1' }, 'xInvalidParameter', /keyServerID/],
      [
        'ModifyKeyServerKmip',
        { keyServerID: 99, kmipKeyServerName: 'x' },
        'xKeyServerIDDoesNotExist',
        /99/,
      ],
      [
        'ModifyKeyServerKmip',
        { keyServerID: 1, kmipKeyServerPort: -1 },
        'xInvalidParameter',
        /kmipKeyServerPort/,
      ],
      [
        'ModifyKeyServerKmip',
        { keyServerID: 1, kmipClientCertificate: expired },
        'xInvalidParameter',
        /expired/,
      ],
      ['DeleteKeyServerKmip', {}, 'xMissingParameter', /\[keyServerID\]/],
      ['DeleteKeyServerKmip', { keyServerID: 0 }, 'xInvalidParameter', /keyServerID/],
      [
        'DeleteKeyServerKmip',
        { keyServerID: 99 },
        'xKeyServerIDDoesNotExist',
        /Key server 99 does not exist/,
      ],
      ['GetKeyServerKmip', { keyServerID: 99 }, 'xKeyServerIDDoesNotExist', /99/],
      ['GetKeyServerKmip', { keyServerID: null }, 'xInvalidParameter', /keyServerID/],
      ['TestKeyServerKmip', { keyServerID: 99 }, 'xKeyServerIDDoesNotExist', /99/],
      ['TestKeyServerKmip', {}, 'xMissingParameter', /\[keyServerID\]/],
      ['ListKeyServersKmip', { keyProviderID: 99 }, 'xKeyProviderIDDoesNotExist', /99/],
      [
        'ListKeyServersKmip',
        { kmipHasProviderAssigned: 'yes' },
        'xInvalidParameter',
        /kmipHasProviderAssigned/,
      ],
      [
        'ListKeyServersKmip',
        { kmipAssignedProviderIsActive: 1 },
        'xInvalidParameter',
        /kmipAssignedProviderIsActive/,
      ],
    );
    for (const [method, p, name, message] of cases) {
      const reply = await client.call(method, p);
      t.equal(reply.error?.name, name, `${method} ${JSON.stringify(p).slice(0, 80)}`);
      t.match(reply.error?.message, message);
    }
    t.ok(node.snapshot() === before, 'the store is unchanged');
    t.equal(recorder.contacts.length, 0);
  });

  t.test('ModifyKeyServerKmip with only keyServerID is a no-op without contact', async (t) => {
    const before = node.snapshot();
    const { kmipKeyServer } = await client.ok('ModifyKeyServerKmip', { keyServerID: 1 });
    t.equal(kmipKeyServer.kmipKeyServerName, 'kms-1');
    t.equal(recorder.contacts.length, 0);
    t.ok(node.snapshot() === before, 'the store is unchanged');
  });

  t.test('a Modify the server does not answer changes nothing and names the step', async (t) => {
    const before = node.snapshot();
    const reply = await client.call('ModifyKeyServerKmip', {
      keyServerID: 1,
      kmipKeyServerName: 'renamed',
    });
    t.equal(reply.error?.name, 'xKeyServerTestFailed');
    t.match(reply.error?.message, /Key server 1 \(renamed\) failed at step connect: not reachable/);
    t.equal(recorder.contacts.length, 1, 'contacted with the new settings');
    t.equal(recorder.contacts[0].port, 5696);
    t.ok(node.snapshot() === before, 'the store is unchanged');
  });

  t.test('a CA certificate nearly expired is accepted (the fault reports it later)', async (t) => {
    const soon = makeCa('short CA', 10);
    const clientCertificate = signCsr(
      soon,
      (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest,
    );
    const { kmipKeyServer } = await client.ok(
      'CreateKeyServerKmip',
      serverParams({ ca: soon, clientCertificate }, { kmipKeyServerName: 'soon' }),
    );
    t.equal(kmipKeyServer.keyServerID, 3);
  });

  t.test('ListKeyServersKmip filters', async (t) => {
    const ids = async (p: Record<string, unknown>) =>
      (await client.ok('ListKeyServersKmip', p)).kmipKeyServers.map(
        (s: { keyServerID: number }) => s.keyServerID,
      );
    t.same(await ids({ kmipHasProviderAssigned: false }), [1, 2, 3]);
    t.same(await ids({ kmipHasProviderAssigned: true }), []);
    t.same(await ids({ kmipAssignedProviderIsActive: true }), []);
    t.same(
      await ids({ kmipAssignedProviderIsActive: false }),
      [1, 2, 3],
      'unassigned servers are deletable',
    );
    const { kmipKeyProvider } = await client.ok('CreateKeyProviderKmip', {
      keyProviderName: 'empty',
    });
    t.same(await ids({ keyProviderID: kmipKeyProvider.keyProviderID }), []);
  });

  t.test('DeleteKeyServerKmip deletes an unassigned server', async (t) => {
    t.same(await client.ok('DeleteKeyServerKmip', { keyServerID: 2 }), {});
    const reply = await client.call('GetKeyServerKmip', { keyServerID: 2 });
    t.equal(reply.error?.name, 'xKeyServerIDDoesNotExist');
  });

  t.test('after the key pair is replaced, Test fails locally at step certificates', async (t) => {
    await client.ok('CreatePublicPrivateKeyPair', { commonName: 'replacement' });
    const contacts = recorder.contacts.length;
    const reply = await client.call('TestKeyServerKmip', { keyServerID: 1 });
    t.equal(reply.error?.name, 'xKeyServerTestFailed');
    t.match(reply.error?.message, /at step certificates: .*not the cluster's key pair/);
    t.equal(recorder.contacts.length, contacts, 'the server was not contacted');
  });

  t.test('a restart keeps servers; deleted IDs are not reused', async (t) => {
    const before = (await node.client.ok('ListKeyServersKmip')).kmipKeyServers;
    await node.restart();
    t.same((await node.client.ok('ListKeyServersKmip')).kmipKeyServers, before);
    const csr = (await node.client.ok('GetClientCertificateSignRequest'))
      .clientCertificateSignRequest;
    const { kmipKeyServer } = await node.client.ok(
      'CreateKeyServerKmip',
      serverParams(
        { ca: pki.ca, clientCertificate: signCsr(pki.ca, csr) },
        { kmipKeyServerName: 'kms-4' },
      ),
    );
    t.equal(kmipKeyServer.keyServerID, 4);
  });
});
