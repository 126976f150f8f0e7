import t from 'tap';
import {
  FAULT_CODES,
  FaultService,
  readFaults,
  type FaultChange,
} from '../../../src/cluster/faults';
import { openSqliteStore } from '../../../src/store';
import { failingWrites, faultStoreDir } from './fault-store';

// Element's fault object members (reference §6), no more, no fewer.
const MEMBERS = [
  'blocksUpgrade',
  'clusterFaultID',
  'code',
  'data',
  'date',
  'details',
  'driveID',
  'driveIDs',
  'externalSource',
  'networkInterface',
  'nodeHardwareFaultID',
  'nodeID',
  'resolved',
  'resolvedDate',
  'serviceID',
  'severity',
  'type',
];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/;

t.test(
  'a raised fault is the full Element object with the severity and type of the table',
  async (t) => {
    const store = faultStoreDir(t).open();
    const faults = new FaultService(store);
    const fault = await faults.raise(
      'kmipServerFault',
      { keyServerID: 3 },
      'Key server kms-1: connection refused.',
    );
    t.same(Object.keys(fault), MEMBERS);
    t.match(fault, {
      clusterFaultID: 1,
      code: 'kmipServerFault',
      severity: FAULT_CODES.kmipServerFault.severity,
      type: FAULT_CODES.kmipServerFault.type,
      blocksUpgrade: true,
      data: { keyServerID: 3 },
      details: 'Key server kms-1: connection refused.',
      driveID: 0,
      driveIDs: [],
      nodeID: 0,
      serviceID: 0,
      nodeHardwareFaultID: 0,
      externalSource: '',
      networkInterface: '',
      resolved: false,
      resolvedDate: '',
    });
    t.match(fault.date, ISO);
    t.same(faults.list(), [fault]);

    const slice = await faults.raise(
      'sliceServiceUnhealthy',
      { serviceID: 7, nodeID: 1, driveID: 2 },
      'SolidFire Application cannot communicate with a metadata service.',
    );
    t.match(slice, { type: 'service', severity: 'warning', serviceID: 7, nodeID: 1, driveID: 2 });
    t.same(slice.driveIDs, [2]);
    t.equal(slice.data, null);
  },
);

t.test('one current fault per code and subject, updated in place', async (t) => {
  const store = faultStoreDir(t).open();
  const faults = new FaultService(store);
  const first = await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.');
  const revision = () => store.list('faults/records/')[0].revision;
  const before = revision();

  t.same(
    await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.'),
    first,
  );
  t.equal(revision(), before, 'an unchanged raise writes nothing');

  const updated = await faults.raise(
    'kmipServerFault',
    { keyServerID: 1 },
    'Key server a: TLS failed.',
  );
  t.equal(updated.clusterFaultID, first.clusterFaultID);
  t.equal(updated.date, first.date, 'date is when it was first detected');
  t.equal(updated.details, 'Key server a: TLS failed.');
  t.ok(revision() > before, 'an update is a change of the record');

  const other = await faults.raise('kmipServerFault', { keyServerID: 2 }, 'Key server b: refused.');
  const cert = await faults.raise(
    'kmipCertificateFault',
    { keyServerID: 1 },
    'CA expires in 9 days.',
  );
  t.same(
    faults.list().map((f) => f.clusterFaultID),
    [first.clusterFaultID, other.clusterFaultID, cert.clusterFaultID],
  );
  t.equal(new Set(faults.list().map((f) => f.clusterFaultID)).size, 3);
});

t.test("driveFailed per node: driveIDs and Element's details, resolved when empty", async (t) => {
  const store = faultStoreDir(t).open();
  const faults = new FaultService(store);
  const two = (await faults.reportNodeDrives('driveFailed', 1, [5, 3, 5]))!;
  t.match(two, {
    code: 'driveFailed',
    type: 'drive',
    nodeID: 1,
    driveIDs: [3, 5],
    driveID: 3,
    details: 'Node ID 1 has 2 failed drive(s).',
  });
  const three = (await faults.reportNodeDrives('driveFailed', 1, [3, 5, 9]))!;
  t.equal(three.clusterFaultID, two.clusterFaultID);
  t.equal(three.details, 'Node ID 1 has 3 failed drive(s).');
  t.same(three.driveIDs, [3, 5, 9]);

  const available = (await faults.reportNodeDrives('driveAvailable', 1, [4]))!;
  t.equal(available.details, 'Node ID 1 has 1 available drive(s).');
  t.not(available.clusterFaultID, two.clusterFaultID);

  const resolved = await faults.reportNodeDrives('driveFailed', 1, []);
  t.match(resolved, { clusterFaultID: two.clusterFaultID, resolved: true });
  t.equal(
    await faults.reportNodeDrives('driveFailed', 1, []),
    undefined,
    'nothing left to resolve',
  );
  t.same(
    faults.list('current').map((f) => f.code),
    ['driveAvailable'],
  );
});

t.test('resolve, then a recurrence is a new fault', async (t) => {
  const store = faultStoreDir(t).open();
  const faults = new FaultService(store);
  const subject = { keyServerID: 4 };
  const first = await faults.raise('kmipServerFault', subject, 'Key server d: refused.');
  const resolved = (await faults.resolve('kmipServerFault', subject))!;
  t.equal(resolved.resolved, true);
  t.match(resolved.resolvedDate, ISO);
  t.ok(resolved.resolvedDate >= first.date);
  t.equal(
    await faults.resolve('kmipServerFault', subject),
    undefined,
    'resolving twice is a no-op',
  );

  const again = await faults.raise('kmipServerFault', subject, 'Key server d: refused.');
  t.ok(again.clusterFaultID > first.clusterFaultID);
  t.same(
    faults.list('resolved').map((f) => f.clusterFaultID),
    [first.clusterFaultID],
  );
  t.same(
    faults.list('current').map((f) => f.clusterFaultID),
    [again.clusterFaultID],
  );
  t.equal(faults.list('all').length, 2);
});

t.test('clear: resolved by default; a cleared current fault recurs with a new ID', async (t) => {
  const store = faultStoreDir(t).open();
  const faults = new FaultService(store);
  const gone = await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.');
  await faults.resolve('kmipServerFault', { keyServerID: 1 });
  const live = (await faults.reportNodeDrives('driveFailed', 1, [2]))!;

  t.equal(await faults.clear(), 1);
  t.same(
    faults.list().map((f) => f.clusterFaultID),
    [live.clusterFaultID],
  );
  t.equal(await faults.clear('resolved'), 0);

  t.equal(await faults.clear('current'), 1);
  t.same(faults.list(), []);
  t.same(store.list('faults/current/'), [], 'no identity points at a cleared fault');
  const recurred = (await faults.reportNodeDrives('driveFailed', 1, [2]))!;
  t.ok(recurred.clusterFaultID > live.clusterFaultID, 'the cause persists: raised again');
  t.not(recurred.clusterFaultID, gone.clusterFaultID);

  await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.');
  await faults.resolve('kmipServerFault', { keyServerID: 1 });
  t.equal(await faults.clear('all'), 2);
  t.same(faults.list('all'), []);
});

t.test('no duplicates after many raise rounds', async (t) => {
  const store = faultStoreDir(t).open();
  const faults = new FaultService(store);
  const writes = new Map<string, number>();
  store.watch('faults/records/', (c) => writes.set(c.key, (writes.get(c.key) ?? 0) + 1));
  // Retry rounds: mostly the same condition again, now and then a changed cause.
  for (let round = 0; round < 60; round++) {
    for (const keyServerID of [1, 2, 3]) {
      await faults.raise(
        'kmipServerFault',
        { keyServerID },
        `Key server ${keyServerID}: cause ${Math.floor(round / 10) % 2}`,
      );
    }
    await faults.reportNodeDrives('driveFailed', 1, round % 20 < 10 ? [2] : [1, 2]);
  }
  const current = faults.list('current');
  t.equal(current.length, 4);
  t.same(
    current.map((f) => f.clusterFaultID),
    [1, 2, 3, 4],
  );
  t.equal(store.get<number>('faults/nextID')?.value, 4);
  t.equal(current[3].details, 'Node ID 1 has 2 failed drive(s).');
  t.same(
    [...writes.values()],
    [6, 6, 6, 6],
    'written only when raised and at each of the 5 changes',
  );
});

t.test('faults and their identities survive a restart; offline reads see them', async (t) => {
  const dir = faultStoreDir(t);
  let store = dir.open();
  let faults = new FaultService(store);
  const server = await faults.raise(
    'kmipServerFault',
    { keyServerID: 1 },
    'Key server a: refused.',
  );
  await faults.reportNodeDrives('driveFailed', 1, [1]);
  await faults.resolve('driveFailed', { nodeID: 1 });
  const before = faults.list();
  faults.close();
  await store.close();

  const offline = openSqliteStore(dir.path, { readonly: true });
  t.same(readFaults(offline, 'all'), before, 'readable without the daemon');
  t.same(
    readFaults(offline, 'current').map((f) => f.clusterFaultID),
    [server.clusterFaultID],
  );
  await offline.close();

  store = dir.open();
  faults = new FaultService(store);
  t.same(faults.list(), before);
  const same = await faults.raise(
    'kmipServerFault',
    { keyServerID: 1 },
    'Key server a: TLS failed.',
  );
  t.equal(same.clusterFaultID, server.clusterFaultID, 'still the current fault after restart');
  const next = (await faults.reportNodeDrives('driveFailed', 1, [1]))!;
  t.equal(next.clusterFaultID, 3, 'IDs continue, never reused');
});

t.test('each change is one transaction: a failed write leaves nothing behind', async (t) => {
  const store = faultStoreDir(t).open();
  const seed = new FaultService(store);
  await seed.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.');
  await seed.resolve('kmipServerFault', { keyServerID: 1 });
  await seed.raise('kmipServerFault', { keyServerID: 2 }, 'Key server b: refused.');
  await seed.raise('kmipServerFault', { keyServerID: 3 }, 'Key server c: refused.');
  const snapshot = () => JSON.stringify(store.list(''));
  const before = snapshot();
  const changes: FaultChange[] = [];
  seed.onChange((c) => changes.push(c));

  const cases: [string, (key: string) => boolean, (f: FaultService) => unknown][] = [
    [
      'raise fails at its identity',
      (k) => k.startsWith('faults/current/'),
      (f) => f.raise('kmipServerFault', { keyServerID: 9 }, 'Key server z: refused.'),
    ],
    [
      'resolve fails at the record',
      (k) => k.startsWith('faults/records/'),
      (f) => f.resolve('kmipServerFault', { keyServerID: 2 }),
    ],
    ['clear fails at the last record', (k) => k.endsWith('0000000003'), (f) => f.clear('all')],
  ];
  for (const [name, failAt, change] of cases) {
    const faults = new FaultService(failingWrites(store, failAt));
    await t.rejects(async () => change(faults), /injected failure/, name);
    t.equal(snapshot(), before, `${name}: store unchanged`);
    faults.close();
  }

  await t.rejects(
    store.transaction((tx) => {
      seed.raiseIn(tx, 'driveFailed', { nodeID: 1 }, 'Node ID 1 has 1 failed drive(s).', {
        driveIDs: [1],
      });
      throw new Error('the caller’s change failed');
    }),
  );
  t.equal(snapshot(), before, 'a fault raised in a failed caller transaction is not kept');
  t.same(changes, [], 'nothing announced for changes that never committed');
});

t.test(
  'onChange announces committed changes in order; a failing listener is contained',
  async (t) => {
    const store = faultStoreDir(t).open();
    const faults = new FaultService(store);
    const changes: string[] = [];
    faults.onChange(() => {
      throw new Error('listener bug');
    });
    const off = faults.onChange((c) =>
      changes.push(
        c.change === 'cleared'
          ? `cleared ${c.clusterFaultID}`
          : `${c.change} ${c.fault.clusterFaultID}`,
      ),
    );
    await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.');
    await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.');
    await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: TLS failed.');
    await faults.resolve('kmipServerFault', { keyServerID: 1 });
    await faults.clear();
    off();
    await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server a: refused.');
    t.same(changes, ['raised 1', 'updated 1', 'resolved 1', 'cleared 1']);
  },
);

t.test("a caller's mistakes are refused before anything is written", async (t) => {
  const store = faultStoreDir(t).open();
  const faults = new FaultService(store);
  await t.rejects(faults.raise('driveFailed', { keyServerID: 1 }, 'x'), /needs nodeID/);
  await t.rejects(faults.raise('kmipServerFault', { keyServerID: 0 }, 'x'), /keyServerID 0/);
  await t.rejects(
    faults.raise('sliceServiceUnhealthy', { serviceID: 1, driveID: -2 }, 'x'),
    /driveID -2 is not a positive integer/,
  );
  await t.rejects(faults.raise('kmipServerFault', { keyServerID: 1 }, ' \n '), /needs details/);
  await t.rejects(faults.reportNodeDrives('driveFailed', 1, [1.5]), /not a drive ID/);
  await t.rejects(faults.raise('noSuchCode' as never, { nodeID: 1 }, 'x'), /unknown fault code/);
  t.same(store.list(''), []);

  const fault = await faults.raise(
    'kmipServerFault',
    { keyServerID: 1 },
    'Key server a:\n\trefused.\u0007',
  );
  t.equal(fault.details, 'Key server a: refused.', 'one readable line');
  t.equal(
    (await faults.raise('kmipServerFault', { keyServerID: 2 }, 'y'.repeat(5000))).details.length,
    1000,
  );
});
