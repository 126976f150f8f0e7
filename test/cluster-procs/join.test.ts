// Joining, all real processes (a 3-member etcd, the dev key server, per node an ekmd-sim
// and an ekmd on 127.0.0.N): three nodes wait as pending; CreateCluster through node 1
// naming all three makes them active, and nodes 2 and 3 list the same three active nodes
// and the same master; a fourth node started later is pending on every node until AddNodes
// makes it node 4. Each node serves the node link, pinned to the certificate in its record.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLUSTER_PREFIX } from '../../scripts/cluster/harness';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import { nodeLinkIdentity } from '../../src/cluster/node-link/link-identity';
import { fetchPeerShare } from '../../src/cluster/node-link/share-client';
import { activeNodes } from '../../src/cluster/nodes/node-records';
import { openSealer } from '../../src/store';
import { openEtcdStore } from '../../src/store/etcd';
import { client, createCluster, startCluster, until } from './fixtures/cluster';

/** A node's view follows etcd's watch: another node's write shows within moments. */
const VIEW_MS = 10_000;

interface Node {
  nodeID: number;
  mip: string;
  name: string;
  uuid: string;
}

const activeOf = async (api: RpcClient) =>
  ((await api.ok('ListActiveNodes')).nodes as Node[]).map((n) => `${n.nodeID} ${n.mip} ${n.name}`);
const pendingOf = async (api: RpcClient) =>
  ((await api.ok('ListPendingNodes')).pendingNodes as { mip: string; pendingNodeID: number }[])
    .map((p) => p)
    .sort((a, b) => a.mip.localeCompare(b.mip));

/** Polls until node `api` lists exactly `want`. */
const sees = (api: RpcClient, list: (api: RpcClient) => Promise<string[]>, want: string[]) =>
  until(
    `${want.length} nodes listed`,
    async () => {
      const got = await list(api);
      return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
    },
    VIEW_MS,
  );

t.test('CreateCluster with three nodes; a fourth is pending until AddNodes', async (t) => {
  const cluster = await startCluster(t, 3, { drives: () => 1 });
  const apis = [1, 2, 3].map((i) => client(t, cluster, i));
  const [node1, node2, node3] = apis as [RpcClient, RpcClient, RpcClient];

  const pendingMips = await until(
    'nodes 2 and 3 pending',
    async () => {
      const mips = (await pendingOf(node1)).map((p) => p.mip);
      return mips.includes('127.0.0.2') && mips.includes('127.0.0.3') ? mips : undefined;
    },
    VIEW_MS,
  );
  t.ok(pendingMips.includes('127.0.0.2'), 'node 2 registered as pending');

  await createCluster(node1, ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  const three = ['1 127.0.0.1 node-1', '2 127.0.0.2 node-2', '3 127.0.0.3 node-3'];
  t.same(await activeOf(node1), three, 'node 1 lists three active nodes');
  t.same(await sees(node2, activeOf, three), three, 'node 2 lists the same three');
  t.same(await sees(node3, activeOf, three), three, 'node 3 lists the same three');
  const masters = await Promise.all(
    apis.map(async (api) => (await api.ok('GetClusterMasterNodeID')).nodeID as number),
  );
  t.equal(new Set(masters).size, 1, `every node names the same master (${masters[0]})`);
  t.same((await pendingOf(node2)).length, 0, 'nobody pending any more');

  const fourth = await cluster.addNode();
  const node4 = client(t, cluster, 4);
  const pending = await until(
    'node 4 pending',
    async () => {
      const list = await pendingOf(node2);
      return list.length === 1 && list[0]!.mip === '127.0.0.4' ? list[0] : undefined;
    },
    VIEW_MS,
  );
  t.equal(pending.mip, '127.0.0.4', 'the fourth node is pending (seen from node 2)');
  t.same(await activeOf(node4), three, 'node 4 lists the three, not itself, as active');
  t.equal(
    (await node4.call('ListPendingNodes')).result?.pendingNodes.length,
    1,
    'and itself as pending',
  );

  const added = await node3.ok('AddNodes', { pendingNodes: [pending.pendingNodeID] });
  t.match(added.nodes, [{ pendingNodeID: pending.pendingNodeID, nodeID: 4 }], 'AddNodes on node 3');
  const four = [...three, '4 127.0.0.4 node-4'];
  for (const [i, api] of [node1, node2, node3, node4].entries()) {
    t.same(await sees(api, activeOf, four), four, `node ${i + 1} lists four active nodes`);
  }
  await until(
    'node 4 knows it joined',
    async () => (/"this node is in the cluster"/.test(fourth.ekmd!.output()) ? true : undefined),
    VIEW_MS,
  );
  t.pass('node 4 saw itself added');

  // Each ekmd serves the node link where its record says, pinned to the certificate there:
  // node 1 answers node 2's identity (read from node 2's files) and has no key share to give
  // (no key is split yet); a certificate no node record holds is refused.
  const store = await openEtcdStore({ endpoints: cluster.etcd.endpoints, prefix: CLUSTER_PREFIX });
  t.teardown(() => store.close());
  const records = activeNodes(store);
  t.ok(
    records.every((n) => n.link && n.link.port > 0 && /BEGIN CERTIFICATE/.test(n.link.certificate)),
    'every active node publishes its link',
  );
  const linkOf = (dir: string) => nodeLinkIdentity(dir, openSealer({ stateDir: dir }), 'test');
  const peer = { host: records[0]!.mip, ...records[0]!.link! };
  const asNode2 = await fetchPeerShare(peer, await linkOf(cluster.nodes[1]!.stateDir), 1).catch(
    (e: Error) => e,
  );
  t.match(asNode2, { reason: 'refused', message: /noKeyShare/ }, 'node 2 is heard: no share yet');
  const stranger = mkdtempSync(join(tmpdir(), 'ekmd-stranger-'));
  t.teardown(() => rmSync(stranger, { recursive: true, force: true }));
  const asStranger = await fetchPeerShare(peer, await linkOf(stranger), 1).catch((e: Error) => e);
  t.match(asStranger, { reason: 'refused', message: /notActiveNode/ }, 'a stranger is refused');
});
