// EnableEncryptionAtRest (hardware, AKs on the dev key server) whose master is killed by
// kill -9 while it secures its own drives, all real processes (a 3-member etcd, the dev key
// server, three ekmd nodes with two simulated drives each). Each node secures its own
// drives; EAR becomes `enabled` once every active node has. So the survivors secure theirs
// and EAR stays `enabling` while the killed node is down (another node is master within
// 10 s); restarted without the crash point, the killed node resumes its interrupted drives
// (provisioning journaled in the store) and EAR ends `enabled`: every drive secured with
// its own AK, locking on in the simulator, no AK left at the key server that no drive
// holds, and no fault left over.
import t, { type Test } from 'tap';
import type { ProcCluster } from '../../scripts/cluster/harness';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import type { CrashPoint } from '../../src/cluster/test-hooks';
import { SimConnection } from '../../src/opal/sim-socket/connection';
import type { DriveStatus } from '../../src/sim/drive/sim-drive';
import { addProvider } from '../cluster/sear/eks-setup';
import { startCreatedCluster, until } from './fixtures/cluster';
import {
  FAILOVER_WITHIN_MS,
  armMaster,
  awaitCrashAndFailover,
  faultsLeft,
  keyServerObjects,
  restartUnarmed,
} from './fixtures/master-kill';

const NODES = [1, 2, 3];
const DRIVES_PER_NODE = 2;

type Drive = Record<string, any>;

const earState = async (api: RpcClient) =>
  (await api.ok('GetEncryptionAtRestInfo')).state as string;

const listDrives = async (api: RpcClient) => (await api.ok('ListDrives')).drives as Drive[];

/** Secured under `keyProviderID`, as ListDrives shows a drive. */
const secured = (d: Drive, keyProviderID: number) =>
  typeof d.keyID === 'string' &&
  d.keyProviderID === keyProviderID &&
  d.driveSecurityFaultReason === 'none';

/**
 * Whether node N's simulated drives all have locking on (Locking SP active, the global
 * range read- and write-lock enabled): ListDrives cannot tell a drive still being
 * provisioned from a secured one, the drive can.
 */
async function lockingOn(cluster: ProcCluster, n: number): Promise<boolean> {
  const conn = new SimConnection(cluster.nodes[n - 1]!.simSocket);
  try {
    const drives = (await conn.request({ op: 'status' })).header.drives as DriveStatus[];
    return (
      drives.length === DRIVES_PER_NODE &&
      drives.every((s) => s.lsp === 'manufactured' && s.ranges.some((r) => r.rle && r.wle))
    );
  } finally {
    await conn.close();
  }
}

t.test('the master killed during EnableEncryptionAtRest', async (t) => {
  const { cluster, apis } = await startCreatedCluster(t, 3, { drives: () => DRIVES_PER_NODE });
  await until(
    'every drive listed',
    async () =>
      (await listDrives(apis[0]!)).length === NODES.length * DRIVES_PER_NODE ? true : undefined,
    30_000,
  );
  const { keyProviderID } = await addProvider({ client: apis[0]! }, cluster.pki, cluster.kmipPort);
  const uuid = (await apis[0]!.ok('GetClusterInfo')).clusterInfo.uuid as string;

  /** This cluster's AKs the key server holds, or ever made (`destroyed` too), by Name. */
  const aksAtKeyServer = (destroyed = false) =>
    keyServerObjects(cluster)
      .filter((o) => destroyed || o.material !== undefined)
      .flatMap((o) => o.attributes.names ?? [])
      .filter((name) => name.startsWith(`ekmd-AK cluster=${uuid} `));

  /** `orphans`: AKs the killed master registered and never recorded, destroyed later. */
  const killedEnable = async (t: Test, point: CrashPoint, orphans: number) => {
    const madeBefore = aksAtKeyServer(true).length;
    const master = await armMaster(cluster, apis, point);
    const asker = apis[NODES.find((n) => n !== master)! - 1]!;
    await asker.ok('EnableEncryptionAtRest', { keyProviderID });
    const failover = await awaitCrashAndFailover(cluster, apis, master);
    t.ok(
      failover.failoverMs <= FAILOVER_WITHIN_MS,
      `node ${master} killed at ${point}; node ${failover.next} master ${failover.failoverMs} ms later`,
    );

    // The survivors secure their own drives; the killed node's part waits for it.
    const survivors = NODES.filter((n) => n !== master);
    await until(
      "the survivors' drives secured",
      async () => {
        const drives = (await listDrives(asker)).filter((d) => d.nodeID !== master);
        if (!drives.every((d) => secured(d, keyProviderID))) return undefined;
        for (const n of survivors) if (!(await lockingOn(cluster, n))) return undefined;
        return true;
      },
      60_000,
    );
    t.equal(await earState(asker), 'enabling', 'enabling while the killed node is down');
    t.notOk(await lockingOn(cluster, master), "the killed node's drives not all locking yet");

    const restartedAt = Date.now();
    await restartUnarmed(cluster, master);
    await until(
      'enabled',
      async () => ((await earState(asker)) === 'enabled' ? true : undefined),
      60_000,
    );
    t.pass(
      `enabled ${Date.now() - failover.killedAt} ms after the kill, ${Date.now() - restartedAt} ms after the restart`,
    );

    const drives = await listDrives(asker);
    t.equal(drives.length, NODES.length * DRIVES_PER_NODE, 'every drive listed');
    t.ok(
      drives.every((d) => secured(d, keyProviderID)),
      'every drive secured with its own AK at the provider',
    );
    t.equal(new Set(drives.map((d) => d.keyID)).size, drives.length, 'one AK per drive');
    for (const n of NODES)
      t.ok(await lockingOn(cluster, n), `node ${n}'s simulator: locking on for each drive`);
    // The AKs live at the key server are exactly the drives' (an interrupted Register's
    // keys, found by their Name, are destroyed).
    t.same(
      aksAtKeyServer()
        .map((name) => /keyID=(\S+)$/.exec(name)?.[1])
        .sort(),
      drives.map((d) => d.keyID as string).sort(),
      "the AKs at the key server are exactly the drives'",
    );
    t.equal(
      aksAtKeyServer(true).length - madeBefore,
      drives.length + orphans,
      `AKs made by this Enable: one per drive${orphans ? ` and the ${orphans} registered before the kill` : ''}`,
    );
    t.same(await faultsLeft(asker), [], 'no current cluster fault');
  };

  await t.test('killed after taking ownership of a drive', (t) =>
    killedEnable(t, 'ear.afterTakeOwnership', 0),
  );

  await t.test('disabled again', async (t) => {
    await apis[0]!.ok('DisableEncryptionAtRest');
    await until(
      'disabled',
      async () => ((await earState(apis[0]!)) === 'disabled' ? true : undefined),
      60_000,
    );
    t.pass('EAR disabled');
  });

  await t.test('killed after registering the AKs, before recording them', (t) =>
    killedEnable(t, 'ear.afterRegister', DRIVES_PER_NODE),
  );
});
