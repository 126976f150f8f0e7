import t from 'tap';
import { ContactRecorder, recordLiveKey, serverParams, withKeyPair } from './fixtures';
import { startNode } from './node';

t.test('KMIP key providers without contacting key servers', async (t) => {
  const recorder = new ContactRecorder();
  const node = await startNode(t, recorder);
  const { client } = node;
  const pki = await withKeyPair(node);
  await client.ok('CreateKeyServerKmip', serverParams(pki));

  t.test('a new provider has no servers and is inactive', async (t) => {
    const { kmipKeyProvider } = await client.ok('CreateKeyProviderKmip', { keyProviderName: 'p1' });
    t.equal(kmipKeyProvider.keyProviderID, 1);
    t.equal(kmipKeyProvider.keyProviderName, 'p1');
    t.equal(kmipKeyProvider.keyProviderIsActive, false);
    t.same(kmipKeyProvider.keyServerIDs, []);
    t.match(kmipKeyProvider.kmipCapabilities, /KMIP 1\.0-1\.4/);
    t.same(
      (await client.ok('GetKeyProviderKmip', { keyProviderID: 1 })).kmipKeyProvider,
      kmipKeyProvider,
    );
    t.same((await client.ok('ListKeyProvidersKmip')).kmipKeyProviders, [kmipKeyProvider]);
  });

  t.test('wrong parameters are refused and change nothing', async (t) => {
    const before = node.snapshot();
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['CreateKeyProviderKmip', {}, 'xMissingParameter', /\[keyProviderName\]/],
      ['CreateKeyProviderKmip', { keyProviderName: '' }, 'xInvalidParameter', /keyProviderName/],
      ['CreateKeyProviderKmip', { keyProviderName: 7 }, 'xInvalidParameter', /keyProviderName/],
      ['DeleteKeyProviderKmip', {}, 'xMissingParameter', /\[keyProviderID\]/],
      ['DeleteKeyProviderKmip', { keyProviderID: '1' }, 'xInvalidParameter', /keyProviderID/],
      [
        'DeleteKeyProviderKmip',
        { keyProviderID: 9 },
        'xKeyProviderIDDoesNotExist',
        /Key provider 9 does not exist/,
      ],
      ['GetKeyProviderKmip', { keyProviderID: 9 }, 'xKeyProviderIDDoesNotExist', /9/],
      ['GetKeyProviderKmip', { keyProviderID: 1.5 }, 'xInvalidParameter', /keyProviderID/],
      ['TestKeyProviderKmip', { keyProviderID: 9 }, 'xKeyProviderIDDoesNotExist', /9/],
      [
        'ListKeyProvidersKmip',
        { keyProviderIsActive: 'no' },
        'xInvalidParameter',
        /keyProviderIsActive/,
      ],
      [
        'ListKeyProvidersKmip',
        { kmipKeyProviderHasServerAssigned: 0 },
        'xInvalidParameter',
        /kmipKeyProviderHasServerAssigned/,
      ],
      ['AddKeyServerToProviderKmip', { keyProviderID: 1 }, 'xMissingParameter', /\[keyServerID\]/],
      ['AddKeyServerToProviderKmip', { keyServerID: 1 }, 'xMissingParameter', /\[keyProviderID\]/],
      [
        'AddKeyServerToProviderKmip',
        { keyProviderID: 9, keyServerID: 1 },
        'xKeyProviderIDDoesNotExist',
        /9/,
      ],
      [
        'AddKeyServerToProviderKmip',
        { keyProviderID: 1, keyServerID: 9 },
        'xKeyServerIDDoesNotExist',
        /9/,
      ],
      [
        'AddKeyServerToProviderKmip',
        { keyProviderID: 1, keyServerID: 1 },
        'xKeyServerTestFailed',
        /step connect/,
      ],
      ['RemoveKeyServerFromProviderKmip', {}, 'xMissingParameter', /\[keyServerID\]/],
      ['RemoveKeyServerFromProviderKmip', { keyServerID: 9 }, 'xKeyServerIDDoesNotExist', /9/],
    ];
    for (const [method, p, name, message] of cases) {
      const reply = await client.call(method, p);
      t.equal(reply.error?.name, name, `${method} ${JSON.stringify(p)}`);
      t.match(reply.error?.message, message);
    }
    t.ok(node.snapshot() === before, 'the store is unchanged');
    t.equal(recorder.contacts.length, 1, 'only AddKeyServerToProvider contacted the server');
  });

  t.test('removing an unassigned server is a no-op', async (t) => {
    const before = node.snapshot();
    t.same(await client.ok('RemoveKeyServerFromProviderKmip', { keyServerID: 1 }), {});
    t.ok(node.snapshot() === before, 'the store is unchanged');
  });

  t.test('TestKeyProviderKmip with no servers says so', async (t) => {
    const reply = await client.call('TestKeyProviderKmip', { keyProviderID: 1 });
    t.equal(reply.error?.name, 'xKeyProviderHasNoServers');
  });

  t.test('activity is derived from live and pending-destroy keys', async (t) => {
    const active = async () =>
      (await client.ok('GetKeyProviderKmip', { keyProviderID: 1 })).kmipKeyProvider
        .keyProviderIsActive;
    await recordLiveKey(node, 1, 'k-1');
    t.equal(await active(), true, 'live key');
    const deletion = await client.call('DeleteKeyProviderKmip', { keyProviderID: 1 });
    t.equal(deletion.error?.name, 'xKeyProviderIsActive');
    await node.store.put('keys/k-1', { keyID: 'k-1', keyProviderID: 1, state: 'pendingDestroy' });
    t.equal(await active(), true, 'pending-destroy key');
    const ids = async (p: Record<string, unknown>) =>
      (await client.ok('ListKeyProvidersKmip', p)).kmipKeyProviders.map(
        (x: { keyProviderID: number }) => x.keyProviderID,
      );
    await client.ok('CreateKeyProviderKmip', { keyProviderName: 'p2' });
    t.same(await ids({ keyProviderIsActive: true }), [1]);
    t.same(await ids({ keyProviderIsActive: false }), [2]);
    t.same(await ids({ kmipKeyProviderHasServerAssigned: false }), [1, 2]);
    t.same(await ids({ kmipKeyProviderHasServerAssigned: true }), []);
    await node.store.put('keys/k-1', { keyID: 'k-1', keyProviderID: 1, state: 'destroyed' });
    t.equal(await active(), false, 'destroyed keys do not hold a provider');
  });

  t.test('an inactive provider is deleted; IDs survive restart and are not reused', async (t) => {
    t.same(await client.ok('DeleteKeyProviderKmip', { keyProviderID: 1 }), {});
    await node.restart();
    const list = (await node.client.ok('ListKeyProvidersKmip')).kmipKeyProviders;
    t.same(
      list.map((p: { keyProviderName: string }) => p.keyProviderName),
      ['p2'],
    );
    const { kmipKeyProvider } = await node.client.ok('CreateKeyProviderKmip', {
      keyProviderName: 'p3',
    });
    t.equal(kmipKeyProvider.keyProviderID, 3);
  });
});
