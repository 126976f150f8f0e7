// Software EAR with an internal master key: CreateCluster makes the MK and every drive gets
// a DEK attached through the simulator's DEK layer (on SEDs and plain drives alike); data
// survives a daemon restart and a power cycle; an internal rekey re-wraps every DEK and
// reports Element's async result shape.
import t from 'tap';
import { DataPathUnsupportedError, type DataPath } from '../../../src/opal/datapath';
import { awaitAsync, createCluster, readsBack, startSearNode, writeEveryDrive } from './sear-node';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

for (const mode of ['opal', 'plain'] as const) {
  t.test(`internal MK on ${mode} drives: DEKs attached, data kept, rekeyed`, async (t) => {
    const node = await startSearNode(t, { drives: 3, mode });
    t.same(await node.client.ok('GetSoftwareEncryptionAtRestInfo'), {
      state: 'disabled',
      version: 0,
    });
    await createCluster(node);
    const info = await node.client.ok('GetSoftwareEncryptionAtRestInfo');
    t.same(Object.keys(info), ['masterKeyInfo', 'state', 'version'], 'Element 5.5 members');
    t.match(info, { state: 'enabled', version: 1 });
    t.same(Object.keys(info.masterKeyInfo), ['keyCreatedTime', 'keyID', 'keyManagementType']);
    t.match(info.masterKeyInfo, {
      keyCreatedTime: TIME,
      keyID: UUID,
      keyManagementType: 'internal',
    });
    t.equal(
      (await node.client.ok('GetClusterInfo')).clusterInfo.softwareEncryptionAtRestState,
      'enabled',
    );
    await node.settle();
    t.ok(
      node.sim.status().drives.every((d) => d.dek === 'attached'),
      'every drive has its DEK',
    );
    const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
    t.ok(drives.every((d) => d.attributes.softwareEncryptionAtRest === 'attached'));
    writeEveryDrive(node);
    t.ok(readsBack(node));

    await node.close();
    node.sim.powerCycle();
    t.ok(
      node.sim.status().drives.every((d) => d.dek === 'detached'),
      'power cycle detaches',
    );
    t.throws(() => node.sim.drives[0]!.readBlock(7), /no DEK/, 'unreadable without the DEK');
    await node.open();
    await node.settle();
    t.ok(readsBack(node), 'data readable after restart and power cycle');

    const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
      keyManagementType: 'Internal',
    });
    t.type(asyncHandle, 'number');
    const r = await awaitAsync(node, asyncHandle);
    t.same(Object.keys(r).sort(), [
      'createTime',
      'lastUpdateTime',
      'result',
      'resultType',
      'status',
    ]);
    t.match(r, {
      createTime: TIME,
      lastUpdateTime: TIME,
      resultType: 'RekeySoftwareEncryptionAtRestMasterKey',
      status: 'complete',
    });
    t.same(r.result, {
      keyToDecommission: { keyID: info.masterKeyInfo.keyID, keyManagementType: 'internal' },
      newKey: { keyID: r.result.newKey.keyID, keyManagementType: 'internal' },
      operation: 'Rekeying Master Key. Master Key management remains with Internal Key Management',
      state: 'Ready',
    });
    t.not(r.result.newKey.keyID, info.masterKeyInfo.keyID, 'a new key, never the old one');
    t.equal(
      (await node.client.call('GetAsyncResult', { asyncHandle })).error?.name,
      'xAsyncHandleDoesNotExist',
      'purged once read',
    );
    const after = await node.client.ok('GetSoftwareEncryptionAtRestInfo');
    t.equal(after.masterKeyInfo.keyID, r.result.newKey.keyID);
    t.equal(after.rekeyMasterKeyAsyncResultID, asyncHandle);

    await node.close();
    node.sim.powerCycle();
    await node.open();
    await node.settle();
    t.ok(readsBack(node), 'every DEK unwraps with the new key');
    const keys = node.store.list<any>('keys/').map((e) => e.value);
    t.same(
      keys.map((k) => [k.keyID, k.state, k.sealedKey === null]).sort(),
      [
        [info.masterKeyInfo.keyID, 'destroyed', true],
        [after.masterKeyInfo.keyID, 'live', false],
      ].sort(),
      'the old internal key is gone from the store',
    );
  });
}

t.test('ListAsyncResults shows a kept rekey result in its own shape', async (t) => {
  const node = await startSearNode(t, { drives: 2 });
  await createCluster(node);
  const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey');
  await node.settle();
  const { asyncHandles } = await node.client.ok('ListAsyncResults', {
    asyncResultTypes: ['RekeySoftwareEncryptionAtRestMasterKey'],
  });
  t.equal(asyncHandles.length, 1);
  t.match(asyncHandles[0], {
    asyncResultID: asyncHandle,
    completed: true,
    success: true,
    resultType: 'RekeySoftwareEncryptionAtRestMasterKey',
    data: { state: 'Ready', newKey: { keyManagementType: 'internal' } },
  });
});

t.test('a backend without a DEK layer says so, typed, in the info and ListDrives', async (t) => {
  const none: DataPath = {
    attach: async () => {
      throw new DataPathUnsupportedError('ioctl');
    },
    detach: async () => {
      throw new DataPathUnsupportedError('ioctl');
    },
    isAttached: async () => {
      throw new DataPathUnsupportedError('ioctl');
    },
  };
  const node = await startSearNode(t, { drives: 2, dataPath: none });
  await createCluster(node);
  await node.settle();
  const info = await node.client.ok('GetSoftwareEncryptionAtRestInfo');
  t.equal(info.detachedDrives.length, 2);
  t.match(info.detachedDrives[0], {
    driveID: 1,
    reason: 'software encryption at rest is unsupported on the ioctl backend',
  });
  const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  t.ok(
    drives.every((d) =>
      /unsupported on the ioctl backend/.test(d.attributes.softwareEncryptionAtRest),
    ),
  );
  t.equal(node.store.list('sear/deks/').length, 2, 'DEKs made and kept wrapped all the same');
});
