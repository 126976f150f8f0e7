// ListDrives/AddDrives/RemoveDrives and the async results they leave, over the real
// simulator's inventory and a real store, through the API.
import t from 'tap';
import { createCluster, startEarNode } from '../hardware-ear/ear-node';

t.test('drives and async results', async (t) => {
  const node = await startEarNode(t, { drives: 3 });
  await createCluster(node);

  const list = async () => (await node.client.ok('ListDrives')).drives as Record<string, any>[];

  t.test('drives found at start are available, with the full drive object', async (t) => {
    const drives = await list();
    t.equal(drives.length, 3);
    const serials = node.sim.status().drives.map((d) => d.serial);
    t.same(
      drives.map((d) => d.serial),
      serials,
    );
    for (const [i, d] of drives.entries()) {
      t.equal(d.status, 'available');
      t.equal(d.type, 'unknown');
      t.equal(d.slot, i);
      t.equal(d.chassisSlot, String(i));
      t.equal(d.nodeID, 1);
      t.same(d.attributes, {});
      t.equal(d.driveSecurityFaultReason, 'none');
      t.ok(d.capacity > 0 && d.usableCapacity > 0 && d.segmentFileSize > 0);
      t.notOk('keyID' in d, 'no key before EAR');
    }
  });

  t.test('bad AddDrives parameters change nothing', async (t) => {
    const before = node.snapshot();
    const cases: [unknown, string, RegExp][] = [
      [undefined, 'xMissingParameter', /Missing member=\[drives\]/],
      [[], 'xInvalidParameter', /drives/],
      [[{ driveID: 99 }], 'xDriveIDDoesNotExist', /Drive 99 does not exist/],
      [[{ driveID: 1 }, { driveID: 1 }], 'xInvalidParameter', /listed twice/],
      [[{ driveID: 1, type: 'fast' }], 'xInvalidParameter', /type/],
      [[{ driveID: 1 }, { driveID: 42 }], 'xDriveIDDoesNotExist', /Drive 42/],
    ];
    for (const [drives, name, message] of cases) {
      const reply = await node.client.call('AddDrives', drives === undefined ? {} : { drives });
      t.equal(reply.error?.name, name, JSON.stringify(drives));
      t.match(reply.error?.message, message);
    }
    t.equal(node.snapshot(), before);
  });

  t.test('AddDrives: asyncHandle, DriveAdd result, roles, active', async (t) => {
    const { asyncHandle } = await node.client.ok('AddDrives', {
      drives: [{ driveID: 1 }, { driveID: 2 }, { driveID: 3, type: 'volume' }],
    });
    t.type(asyncHandle, 'number');
    await node.settle();
    const listed = (await node.client.ok('ListAsyncResults', { asyncResultTypes: ['DriveAdd'] }))
      .asyncHandles;
    t.equal(listed.length, 1);
    t.match(listed[0], {
      asyncResultID: asyncHandle,
      completed: true,
      success: true,
      resultType: 'DriveAdd',
      data: { driveIDs: [1, 2, 3] },
    });
    t.type(listed[0].createTime, 'string');
    const kept = await node.client.ok('GetAsyncResult', { asyncHandle, keepResult: true });
    t.match(kept, { status: 'complete', resultType: 'DriveAdd', result: { driveIDs: [1, 2, 3] } });
    t.notOk('error' in kept);
    const got = await node.client.ok('GetAsyncResult', { asyncHandle });
    t.equal(got.status, 'complete');
    const gone = await node.client.call('GetAsyncResult', { asyncHandle });
    t.equal(gone.error?.name, 'xAsyncHandleDoesNotExist');
    t.equal(gone.error?.message, `Async handle ${asyncHandle} does not exist.`);
    const drives = await list();
    t.same(
      drives.map((d) => [d.status, d.type]),
      [
        ['active', 'volume'],
        ['active', 'block'],
        ['active', 'volume'],
      ],
    );
    const again = await node.client.call('AddDrives', { drives: [{ driveID: 1 }] });
    t.equal(again.error?.name, 'xDriveNotAvailable');
  });

  t.test('RemoveDrives: active back to available; errors change nothing', async (t) => {
    const before = node.snapshot();
    for (const drives of [[], [7], ['x']]) {
      const reply = await node.client.call('RemoveDrives', { drives });
      t.ok(reply.error, JSON.stringify(drives));
    }
    t.equal(node.snapshot(), before);
    const { asyncHandle } = await node.client.ok('RemoveDrives', { drives: [2] });
    await node.settle();
    const r = await node.client.ok('GetAsyncResult', { asyncHandle });
    t.match(r, { status: 'complete', resultType: 'DriveRemoval', result: { driveIDs: [2] } });
    const d2 = (await list()).find((d) => d.driveID === 2)!;
    t.equal(d2.status, 'available');
    const notActive = await node.client.call('RemoveDrives', { drives: [2] });
    t.equal(notActive.error?.name, 'xDriveNotActive');
  });

  t.test('records and async results survive a restart', async (t) => {
    // Both earlier results were purged by GetAsyncResult; this one is never fetched.
    await node.client.ok('AddDrives', { drives: [{ driveID: 2, type: 'slice' }] });
    await node.settle();
    const before = await list();
    t.equal(before[1]!.type, 'volume', "Element's slice drive holds metadata: a volume drive");
    const revisions = () => node.store.list('drives/records/').map((e) => [e.key, e.revision]);
    const written = revisions();
    await node.restart();
    t.same(await list(), before);
    t.same(revisions(), written, 'drives found as they were are not written again');
    const types = (await node.client.ok('ListAsyncResults')).asyncHandles.map(
      (h: { resultType: string }) => h.resultType,
    );
    t.same(types, ['DriveAdd']);
  });

  t.test('an unplugged active drive fails; plugged back it is active again', async (t) => {
    node.sim.unplug(0);
    await waitFor(async () => (await list()).find((d) => d.driveID === 1)?.status === 'failed');
    const failed = (await list()).find((d) => d.driveID === 1)!;
    t.match(failed.driveFailureDetail, /no longer reachable/);
    node.sim.plug(0);
    await waitFor(async () => (await list()).find((d) => d.driveID === 1)?.status === 'active');
    t.pass('back to active');
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 25));
  }
}
