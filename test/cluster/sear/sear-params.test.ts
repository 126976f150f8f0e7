// Bad RekeySoftwareEncryptionAtRestMasterKey calls get a clean Element error and change
// nothing: SEAR not enabled, External without a provider, a provider with Internal, an
// unknown key management type, an unknown provider, a provider that cannot serve keys (no
// key server), a second rekey while one is in progress.
import t from 'tap';
import { createCluster, startSearNode } from './sear-node';

t.test('SEAR not enabled', async (t) => {
  const node = await startSearNode(t, { drives: 1 });
  const before = await node.client.call('RekeySoftwareEncryptionAtRestMasterKey');
  t.equal(before.error?.name, 'xSoftwareEncryptionAtRestNotEnabled', 'no cluster yet');
  await createCluster(node, false);
  await node.settle();
  const snapshot = node.snapshot();
  const r = await node.client.call('RekeySoftwareEncryptionAtRestMasterKey', {
    keyManagementType: 'Internal',
  });
  t.match(r.error, {
    code: 500,
    name: 'xSoftwareEncryptionAtRestNotEnabled',
    message: /enableSoftwareEncryptionAtRest/,
  });
  t.equal(node.snapshot(), snapshot, 'nothing changed');
  t.same(await node.client.ok('GetSoftwareEncryptionAtRestInfo'), {
    state: 'disabled',
    version: 0,
  });
  t.equal(node.sim.status().drives[0]!.dek, 'none', 'no DEK without SEAR');
});

t.test('parameter errors', async (t) => {
  const node = await startSearNode(t, { drives: 2 });
  await createCluster(node);
  await node.settle();
  const { keyProviderID } = (
    await node.client.ok('CreateKeyProviderKmip', { keyProviderName: 'empty' })
  ).kmipKeyProvider;
  const snapshot = node.snapshot();
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'External without keyProviderID',
      { keyManagementType: 'External' },
      'xInvalidParameter',
      /keyProviderID.*required when keyManagementType is External/,
    ],
    [
      'keyProviderID with Internal',
      { keyManagementType: 'Internal', keyProviderID },
      'xInvalidParameter',
      /keyProviderID.*only valid when keyManagementType is External/,
    ],
    [
      'keyProviderID with the current (internal) management',
      { keyProviderID },
      'xInvalidParameter',
      /keyProviderID.*only valid/,
    ],
    [
      'an unknown key management type',
      { keyManagementType: 'Cloud' },
      'xInvalidParameter',
      /keyManagementType.*Internal or External/,
    ],
    [
      'an unknown provider',
      { keyManagementType: 'External', keyProviderID: 99 },
      'xKeyProviderIDDoesNotExist',
      /Key provider 99 does not exist/,
    ],
    [
      'a provider with no key server (it cannot hold a key)',
      { keyManagementType: 'External', keyProviderID },
      'xKeyProviderHasNoServers',
      /no key servers/,
    ],
    [
      'a provider ID that is not an integer',
      { keyManagementType: 'External', keyProviderID: 'one' },
      'xInvalidParameter',
      /keyProviderID/,
    ],
  ];
  for (const [what, params, name, message] of cases) {
    const r = await node.client.call('RekeySoftwareEncryptionAtRestMasterKey', params);
    t.match(r.error, { code: 500, name, message }, what);
    t.equal(node.snapshot(), snapshot, `${what}: nothing changed`);
  }
  t.same((await node.client.ok('ListAsyncResults')).asyncHandles, [], 'no async result made');
});

t.test('one rekey at a time', async (t) => {
  const node = await startSearNode(t, { drives: 2 });
  await createCluster(node);
  await node.settle();
  // In the same tick: the first rekey's work has not run yet.
  const first = await node.sear.service.rekey({});
  await t.rejects(node.sear.service.rekey({ keyManagementType: 'internal' }), {
    elementName: 'xSoftwareEncryptionAtRestRekeyInProgress',
    message: new RegExp(`in progress \\(async handle ${first}\\)`),
  });
  await node.settle();
  const again = await node.client.call('RekeySoftwareEncryptionAtRestMasterKey');
  t.equal(again.result?.asyncHandle, first + 1, 'a new rekey once the last one is done');
});
