// A software EAR master key rekey onto the dev key server whose master is killed by kill -9
// mid-way, all real processes (a 3-member etcd, the dev key server, three ekmd nodes with
// their simulators). The rekey is asked of a follower; the master that takes it dies at a
// crash point; another node is master within 10 s and ends the rekey: rolled back when the
// kill came before the commit (the old MK current, the new one destroyed at the key server,
// also when the killed master never recorded its Create's answer), finished when it came
// after (the new MK current, an old external MK destroyed). GetAsyncResult, asked of the
// follower, reports which; the killed node, restarted without the crash point, rejoins and
// every drive's DEK is attached again under the MK now current.
import t, { type Test } from 'tap';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import type { CrashPoint } from '../../src/cluster/test-hooks';
import { addProvider, eksClient, mkName } from '../cluster/sear/eks-setup';
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

/** Every node's own drives have their DEK attached, as that node's ListDrives says. */
async function deksAttached(apis: RpcClient[]): Promise<true | undefined> {
  for (const n of NODES) {
    const api = apis[n - 1]!;
    const drives = (await api.ok('ListDrives')).drives as Record<string, any>[];
    const own = drives.filter((d) => d.nodeID === n);
    if (!own.length || own.some((d) => d.attributes?.softwareEncryptionAtRest !== 'attached'))
      return undefined;
  }
  return true;
}

t.test('the master killed during a SEAR rekey', async (t) => {
  const { cluster, apis } = await startCreatedCluster(
    t,
    3,
    { drives: () => 1 },
    {
      enableSoftwareEncryptionAtRest: true,
    },
  );
  await until('every DEK attached', () => deksAttached(apis), 60_000);
  const { keyProviderID } = await addProvider({ client: apis[0]! }, cluster.pki, cluster.kmipPort);
  const uuid = (await apis[0]!.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const eks = eksClient(cluster.pki, cluster.kmipPort);
  t.teardown(() => eks.close());
  /** The live keys of this cluster at the key server. */
  const held = () => eks.locate({ objectGroups: [`ekmd-cluster-${uuid}`] });
  /** Every object the key server ever made under this MK's Name, destroyed ones too. */
  const madeFor = (keyID: string) =>
    keyServerObjects(cluster).filter((o) => o.attributes.names?.includes(mkName(uuid, keyID)));

  /** Rekey onto the key server with the master armed at `point`, the outcome once ended. */
  const killedRekey = async (t: Test, point: CrashPoint) => {
    const master = await armMaster(cluster, apis, point);
    const asker = apis[NODES.find((n) => n !== master)! - 1]!;
    const old = (await asker.ok('GetSoftwareEncryptionAtRestInfo')).masterKeyInfo;
    const { asyncHandle } = await asker.ok('RekeySoftwareEncryptionAtRestMasterKey', {
      keyManagementType: 'External',
      keyProviderID,
    });
    const failover = await awaitCrashAndFailover(cluster, apis, master);
    t.ok(
      failover.failoverMs <= FAILOVER_WITHIN_MS,
      `node ${master} killed at ${point}; node ${failover.next} master ${failover.failoverMs} ms later`,
    );
    // Read once: a complete result is purged by the read.
    const outcome = await until(
      'the rekey ended',
      async () => {
        const r = await asker.ok('GetAsyncResult', { asyncHandle });
        return r.status === 'complete' ? r : undefined;
      },
      60_000,
    );
    const endedMs = Date.now() - failover.killedAt;
    t.pass(`the rekey ended ${endedMs} ms after the kill`);
    const info = await asker.ok('GetSoftwareEncryptionAtRestInfo');
    t.equal(info.rekeyMasterKeyAsyncResultID, asyncHandle, 'Info names the rekey');
    await restartUnarmed(cluster, master);
    await until('every DEK attached again', () => deksAttached(apis), 60_000);
    t.pass(`node ${master} rejoined unarmed; every drive's DEK attached`);
    t.same(await faultsLeft(asker), [], 'no current cluster fault');
    return { old, outcome, info };
  };

  // afterCreate: the key made at the key server, its answer never recorded (found by its
  // Name); afterNewKey: recorded, the DEKs not yet re-wrapped.
  for (const point of ['sear.afterCreate', 'sear.afterNewKey'] as const)
    await t.test(`killed at ${point}, before the commit: rolled back`, async (t) => {
      const { old, outcome, info } = await killedRekey(t, point);
      t.match(outcome.error, {
        name: 'xSoftwareEncryptionAtRestRekeyRolledBack',
        message: /change of cluster master/,
      });
      t.notOk(outcome.result, 'no result beside the error');
      t.same(info.masterKeyInfo, old, 'the internal MK is still current');
      const created = outcome.error.keyToDecommission.keyID as string;
      // The new key's destruction is the new master's clean-up, in the background.
      await until(
        'the new key destroyed at the key server',
        async () => ((await held()).length === 0 ? true : undefined),
        30_000,
      );
      t.same(await eks.locate({ names: [mkName(uuid, created)] }), [], 'the new MK destroyed');
      const made = madeFor(created);
      t.equal(made.length, 1, 'it had been made at the key server');
      t.notOk(made[0]?.material, 'and its material is gone');
    });

  // Internal → external, then external → external: the old external MK, pending its
  // destruction at the commit, is destroyed at the key server by the next master.
  for (const from of ['internal', 'external'] as const)
    await t.test(`killed after the commit, ${from} → external: finished`, async (t) => {
      const { old, outcome, info } = await killedRekey(t, 'sear.afterCommit');
      t.equal(old.keyManagementType, from, `the MK was ${from}`);
      t.notOk(outcome.error, 'no error');
      t.match(outcome.result, {
        keyToDecommission: { keyID: old.keyID, keyManagementType: from },
        newKey: { keyManagementType: 'external', keyProviderID },
        state: 'Ready',
      });
      t.equal(info.masterKeyInfo.keyID, outcome.result.newKey.keyID, 'the new MK is current');
      const [uid] = await eks.locate({ names: [mkName(uuid, outcome.result.newKey.keyID)] });
      t.ok(uid, 'the new MK is at the key server');
      t.equal(madeFor(outcome.result.newKey.keyID).length, 1, 'made once');
      // The old external MK's destruction is the new master's clean-up, in the background.
      await until(
        'only the new MK held',
        async () => ((await held()).length === 1 ? true : undefined),
        30_000,
      ).catch(() => undefined);
      t.same(await held(), [uid], 'and nothing else of this cluster at the key server');
      if (from === 'external')
        t.notOk(madeFor(old.keyID)[0]?.material, 'the old external MK destroyed');
    });
});
