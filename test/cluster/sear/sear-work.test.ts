// SEAR works only on the drives that need it: drive record changes that are not a drive
// appearing (AddDrives, RemoveDrives: status and role) cost no DataPath call at all, on the
// simulator's DEK layer and on a backend without one (the ioctl backend today); a new
// drive costs exactly one attach, a replugged one one check and one attach.
import t from 'tap';
import { DataPathUnsupportedError, type DataPath } from '../../../src/opal/datapath';
import { DRIVE_PREFIX } from '../../../src/cluster/drives/drive-records';
import { SimDataPath } from '../../../src/opal/sim-socket/datapath';
import { awaitAsync, createCluster, startSearNode, waitFor, type SearNode } from './sear-node';

/** Counts the calls SEAR makes, passing them on to the real DataPath. */
class CountingDataPath implements DataPath {
  readonly calls = { attach: 0, isAttached: 0, detach: 0 };
  constructor(private readonly inner: DataPath) {}
  attach(serial: string, dek: Buffer): Promise<void> {
    this.calls.attach++;
    return this.inner.attach(serial, dek);
  }
  detach(serial: string): Promise<void> {
    this.calls.detach++;
    return this.inner.detach(serial);
  }
  isAttached(serial: string): Promise<boolean> {
    this.calls.isAttached++;
    return this.inner.isAttached(serial);
  }
  reset(): void {
    this.calls.attach = this.calls.isAttached = this.calls.detach = 0;
  }
}

const unsupported: DataPath = {
  attach: () => Promise.reject(new DataPathUnsupportedError('ioctl')),
  detach: () => Promise.reject(new DataPathUnsupportedError('ioctl')),
  isAttached: () => Promise.reject(new DataPathUnsupportedError('ioctl')),
};

const ROUNDS = 5;

/** AddDrives then RemoveDrives of every listed drive, ROUNDS times; the record writes seen. */
async function churnDriveRecords(node: SearNode): Promise<number> {
  let writes = 0;
  const unwatch = node.store.watch(DRIVE_PREFIX, () => writes++);
  try {
    const ids = ((await node.client.ok('ListDrives')).drives as Record<string, any>[]).map(
      (d) => d.driveID as number,
    );
    for (let i = 0; i < ROUNDS; i++) {
      const added = await node.client.ok('AddDrives', {
        drives: ids.map((driveID) => ({ driveID })),
      });
      await awaitAsync(node, added.asyncHandle);
      const removed = await node.client.ok('RemoveDrives', { drives: ids });
      await awaitAsync(node, removed.asyncHandle);
    }
  } finally {
    unwatch();
  }
  await node.settle();
  return writes;
}

t.test('simulator DEK layer: only new and replugged drives cost a call', async (t) => {
  let counting: CountingDataPath | undefined;
  let sim: SimDataPath | undefined;
  const node = await startSearNode(t, {
    drives: 3,
    dataPath: (socket) => {
      sim = new SimDataPath(socket);
      return (counting = new CountingDataPath(sim));
    },
  });
  t.teardown(() => sim?.close());
  const path = counting!;
  node.sim.unplug(2);
  await waitFor(
    'drive 2 gone',
    async () => (await node.client.ok('ListDrives')).drives.length === 2,
  );
  await createCluster(node);
  await node.settle();
  t.same(path.calls.attach, 2, 'the two present drives attached');

  path.reset();
  const writes = await churnDriveRecords(node);
  t.ok(writes >= ROUNDS * 4, `the drive records changed (${writes} writes)`);
  t.same(path.calls, { attach: 0, isAttached: 0, detach: 0 }, 'no DataPath call for them');

  node.sim.plug(2);
  await waitFor('drive 2 attached', async () => node.sim.status().drives[2]!.dek === 'attached');
  await node.settle();
  t.same(
    path.calls,
    { attach: 1, isAttached: 0, detach: 0 },
    'the new drive: one attach, the others not even checked',
  );

  path.reset();
  node.sim.unplug(2);
  await waitFor(
    'drive 2 gone',
    async () => (await node.client.ok('ListDrives')).drives.length === 2,
  );
  node.sim.plug(2);
  await waitFor('drive 2 back', async () => node.sim.status().drives[2]!.dek === 'attached');
  await node.settle();
  t.same(path.calls, { attach: 1, isAttached: 1, detach: 0 }, 'the replugged drive: its DEK back');
  t.same(
    node.sim.status().drives.map((d) => d.dek),
    ['attached', 'attached', 'attached'],
  );
});

t.test('backend without a DEK layer: record changes cost nothing', async (t) => {
  const path = new CountingDataPath(unsupported);
  const node = await startSearNode(t, { drives: 3, dataPath: path });
  await createCluster(node);
  await node.settle();
  t.same(path.calls, { attach: 3, isAttached: 0, detach: 0 }, 'each drive tried once');
  t.equal(node.store.list('sear/deks/').length, 3, 'DEKs made and kept wrapped');

  path.reset();
  const writes = await churnDriveRecords(node);
  t.ok(writes >= ROUNDS * 6, `the drive records changed (${writes} writes)`);
  t.same(path.calls, { attach: 0, isAttached: 0, detach: 0 }, 'no DataPath call for them');
  const info = await node.client.ok('GetSoftwareEncryptionAtRestInfo');
  t.equal(info.detachedDrives.length, 3, 'still reported as unsupported');
  t.match(info.detachedDrives[0].reason, /unsupported on the ioctl backend/);
});

t.test('a drive replugged while its attach was in flight gets its DEK again', async (t) => {
  let sim: SimDataPath | undefined;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reached = false;
  let target: string | undefined;
  const node = await startSearNode(t, {
    drives: 2,
    dataPath: (socket) => {
      sim = new SimDataPath(socket);
      const inner = sim;
      return {
        // The DEK reaches the drive, then the answer is held until the drive was replugged.
        attach: async (serial, dek) => {
          await inner.attach(serial, dek);
          if (serial !== target || reached) return;
          reached = true;
          await released;
        },
        detach: (serial) => inner.detach(serial),
        isAttached: (serial) => inner.isAttached(serial),
      };
    },
  });
  t.teardown(() => sim?.close());
  target = node.sim.status().drives[1]!.serial;
  await createCluster(node);
  await waitFor('the attach held', async () => reached);
  node.sim.unplug(1);
  await waitFor(
    'drive 1 gone',
    async () => (await node.client.ok('ListDrives')).drives.length === 1,
  );
  node.sim.plug(1);
  await waitFor(
    'drive 1 back',
    async () => (await node.client.ok('ListDrives')).drives.length === 2,
  );
  t.equal(node.sim.status().drives[1]!.dek, 'detached', 'the replug lost the DEK');
  release();
  await node.settle();
  t.same(
    node.sim.status().drives.map((d) => d.dek),
    ['attached', 'attached'],
    'the answer of the earlier attach did not stand for the replugged drive',
  );
});
