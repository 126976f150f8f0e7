// A SEAR master key rekey with a node killed (kill -9, the EKMD_TEST_HOOKS crash point
// sear.afterNodeRewrap) after it staged its own DEKs and before it recorded its marker, all
// real processes (etcd, two ekmd nodes with their simulators). The master waits while the
// node is online; once its alive key has lapsed it commits: the node's DEKs, staged, settle
// to the new key with the rest, so none is left behind and the old key goes. The node,
// restarted on power-cycled drives, records its marker and attaches every DEK (the
// simulator refuses a DEK that is not the one its drive was formatted with).
import t from 'tap';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import { CLUSTER_PREFIX } from '../../scripts/cluster/harness';
import type { NodeOptions } from '../../scripts/cluster/node';
import {
  SEAR_NODE_PREFIX,
  getSearState,
  listDeks,
  type MasterKeyRecord,
} from '../../src/cluster/sear/sear-store';
import { openEtcdStore } from '../../src/store/etcd';
import { client, createCluster, startCluster, until } from './fixtures/cluster';

const marker = (store: { get<T>(k: string): { value: T } | undefined }, nodeID: number) =>
  store.get<{ reached: string }>(`${SEAR_NODE_PREFIX}${nodeID}`)?.value.reached;

/** Node `api`'s own drives (nodeID) whose DEK it has attached. */
const attachedOn = async (api: RpcClient, nodeID: number): Promise<number> =>
  (
    (await api.ok('ListDrives')).drives as {
      nodeID: number;
      attributes?: { softwareEncryptionAtRest?: string };
    }[]
  ).filter((d) => d.nodeID === nodeID && d.attributes?.softwareEncryptionAtRest === 'attached')
    .length;

t.test('a node killed while it re-wraps its DEKs', async (t) => {
  // Read at each start of a node: node 2 alone is started again with the crash point armed.
  const options: NodeOptions = { env: {} };
  const cluster = await startCluster(t, 2, { etcdMembers: 1, node: options });
  const apis = [1, 2].map((i) => client(t, cluster, i));
  await until(
    'node 2 pending',
    async () => ((await apis[0]!.ok('ListPendingNodes')).pendingNodes.length ? true : undefined),
    10_000,
  );
  await createCluster(apis[0]!, ['127.0.0.1', '127.0.0.2'], {
    enableSoftwareEncryptionAtRest: true,
  });
  const store = await openEtcdStore({ endpoints: cluster.etcd.endpoints, prefix: CLUSTER_PREFIX });
  t.teardown(() => store.close());
  const deksOf = (nodeID: number) => listDeks(store).filter((d) => d.nodeID === nodeID);
  await until(
    "each node's DEKs",
    async () => (deksOf(1).length === 2 && deksOf(2).length === 2 ? true : undefined),
    30_000,
  );
  const old = getSearState(store)!.currentKeyID;
  await until("node 2's marker", async () => (marker(store, 2) === old ? true : undefined), 30_000);

  const node2 = cluster.nodes[1]!;
  await node2.stop();
  options.env = { EKMD_TEST_HOOKS: 'crash:sear.afterNodeRewrap' };
  await node2.start();
  options.env = {};
  const { asyncHandle } = await apis[0]!.ok('RekeySoftwareEncryptionAtRestMasterKey', {});
  const to = await until(
    'the rekey journaled',
    async () => store.get<{ to: { keyID: string } }>('sear/rekey')?.value.to.keyID,
    10_000,
  );
  await until(
    'node 2 killed at the crash point',
    async () => (node2.ekmd!.alive ? undefined : true),
    30_000,
  );
  await until(
    "node 2's staged DEKs seen",
    async () => (deksOf(2).every((d) => d.next?.keyID === to) ? true : undefined),
    10_000,
  );
  t.ok(
    deksOf(2).every((d) => d.keyID === old && d.next?.keyID === to),
    "node 2's DEKs were staged when it died, still under the old key too",
  );
  t.equal(marker(store, 2), old, 'its marker not yet recorded');

  const done = await until(
    'the rekey completes without node 2',
    async () => {
      const r = await apis[0]!.ok('GetAsyncResult', { asyncHandle, keepResult: true });
      return r.status === 'complete' ? r : undefined;
    },
    60_000,
  );
  t.match(done.result, { newKey: { keyID: to }, state: 'Ready' });
  t.notOk('nodesToRewrap' in done.result, 'nothing left behind: its DEKs were staged');
  t.ok(
    listDeks(store).every((d) => d.keyID === to && !d.next),
    'every DEK under the new key',
  );
  await until(
    'the old key destroyed',
    async () =>
      store.get<MasterKeyRecord>(`keys/${old}`)?.value.state === 'destroyed' ? true : undefined,
    30_000,
  );

  // Back on power-cycled drives: its marker, and every DEK attached from the records.
  options.powerCycle = true;
  await node2.start();
  options.powerCycle = false;
  await until(
    'node 2 records its marker',
    async () => (marker(store, 2) === to ? true : undefined),
    30_000,
  );
  await until(
    "node 2's DEKs attached",
    async () => ((await attachedOn(apis[1]!, 2)) === 2 ? true : undefined),
    30_000,
  );
  t.pass("node 2's drives take the DEKs the new key unwraps");
});
