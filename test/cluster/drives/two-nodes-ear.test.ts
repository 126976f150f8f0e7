// Hardware EAR across two nodes on one etcd, each with its simulator: the cluster-wide state
// is the intent and each node's agent secures (or opens) its own drives. EnableEncryptionAtRest
// through node 2 secures node 1's drives and node 2's; the state is `enabled` only once both
// are, and stays `enabling` while node 1's agent is stopped, until it runs again. A node
// added under `enabled` secures its drives when it joins, and one added just before Enable
// counts as done only once it has read its drives. DisableEncryptionAtRest likewise.
import t from 'tap';
import { DRIVE_PREFIX, type DriveRecord } from '../../../src/cluster/drives/drive-records';
import { getEar } from '../../../src/cluster/ear-state';
import { NODE_PROGRESS_PREFIX } from '../../../src/cluster/hardware-ear/node-progress';
import { addNode, joinNode, startTwoNodes, until, type ClusterNode } from './two-node-fixture';

const earState = async (node: ClusterNode): Promise<string> =>
  (await node.client.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;

/** Every drive record in the store (any node's), as `node` sees it. */
const allDrives = (node: ClusterNode): DriveRecord[] =>
  node.store.list<DriveRecord>(DRIVE_PREFIX).map((e) => e.value);

const securityOf = (node: ClusterNode, nodeID: number): string[] =>
  allDrives(node)
    .filter((d) => (d.nodeID ?? 1) === nodeID)
    .map((d) => d.security);

/** The simulator's word: the global range locks on reset (read and write). */
const lockingOn = (d: { status(): { ranges: { rle: boolean; wle: boolean }[] } }): boolean =>
  d.status().ranges[0]!.rle && d.status().ranges[0]!.wle;

const markers = (node: ClusterNode): string[] =>
  node.store.list(NODE_PROGRESS_PREFIX).map((e) => e.key.slice(NODE_PROGRESS_PREFIX.length));

t.test('enable and disable through one node reach every node', async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 2, b: 2 });
  await joinNode(a, b, 2);

  // Node 1's agent is stopped (as while its ekmd is down): Enable through node 2 secures
  // node 2's drives, and the state waits for node 1.
  await a.hw.ear.close();
  t.same(await b.client.ok('EnableEncryptionAtRest'), {});
  await until('node 2 secured its drives', () => securityOf(b, 2).every((s) => s === 'enabled'));
  await until('node 2 recorded it is done', () => markers(a).includes('2'));
  await new Promise((r) => setTimeout(r, 1000)); // time enough for a wrong `enabled`
  t.equal(await earState(a), 'enabling', 'enabling on node 1 while its drives are not secured');
  t.equal(await earState(b), 'enabling', 'and on node 2');
  t.same(securityOf(a, 1), ['none', 'none'], "node 2 left node 1's drives alone");
  t.same(markers(a), ['2'], 'only node 2 is done');

  // Node 1's agent runs again (its restart): its drives are secured, then `enabled`. The
  // moment the state says so, every drive of both nodes is secured.
  let sawEnabledEarly = false;
  const unwatch = b.store.watch('ear/hardware', () => {
    if (getEar(b.store).state !== 'enabled') return;
    const secured = allDrives(b).every((d) => d.security === 'enabled');
    if (!secured) sawEnabledEarly = true;
  });
  t.teardown(unwatch);
  a.hw.ear.recover();
  await until('enabled', () => getEar(b.store).state === 'enabled', 30_000);
  t.notOk(sawEnabledEarly, 'enabled only once both nodes had secured their drives');
  t.equal(await earState(b), 'enabled');
  t.same(securityOf(b, 1), ['enabled', 'enabled'], "node 1's drives secured by node 1");
  t.same(securityOf(b, 2), ['enabled', 'enabled'], "node 2's drives secured by node 2");
  for (const node of [a, b]) {
    t.ok(node.sim.drives.every(lockingOn), `${node.name}: its simulator's drives have locking on`);
  }
  const audits = b.store
    .list<{ action: string }>('audit/')
    .filter((e) => e.value.action === 'EncryptionAtRestEnabled');
  t.equal(audits.length, 1, 'audited once, by the node that moved the state');

  // Disable through node 1 while node 2's agent is stopped: node 1 opens its drives, the
  // state stays `disabling` until node 2's agent runs again.
  await b.hw.ear.close();
  t.same(await a.client.ok('DisableEncryptionAtRest'), {});
  await until('node 1 opened its drives', () => securityOf(a, 1).every((s) => s === 'none'));
  await until('node 1 recorded it is done', () => markers(b).includes('1'));
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(await earState(b), 'disabling', 'disabling while node 2 has secured drives');
  t.same(securityOf(a, 2), ['enabled', 'enabled'], "node 1 left node 2's drives alone");
  b.hw.ear.recover();
  await until('disabled', () => getEar(a.store).state === 'disabled', 30_000);
  t.same(securityOf(a, 2), ['none', 'none'], "node 2's drives opened by node 2");
  t.equal(await earState(a), 'disabled');
  for (const node of [a, b]) {
    t.notOk(node.sim.drives.some(lockingOn), `${node.name}: locking off on its drives`);
  }
});

t.test('a node added under enabled EAR secures its drives when it joins', async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 1, b: 2 });
  t.same(await a.client.ok('EnableEncryptionAtRest'), {});
  await until('enabled with node 1 alone', () => getEar(a.store).state === 'enabled');
  t.same(securityOf(a, 1), ['enabled']);

  await joinNode(a, b, 2);
  await until(
    'node 2 secured its drives on joining',
    () => securityOf(a, 2).length === 2 && securityOf(a, 2).every((s) => s === 'enabled'),
  );
  await until('node 2 recorded it is done', () => markers(a).includes('2'));
  t.equal(getEar(a.store).state, 'enabled', 'the state stayed enabled');
  t.ok(b.sim.drives.every(lockingOn), "node 2's simulated drives have locking on");
});

t.test('Enable right after AddNodes waits for the new node to read its drives', async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 1, b: 3 });
  await addNode(a, b);
  // Node 2 may not have read its drives yet: it must not count as done with none.
  t.same(await a.client.ok('EnableEncryptionAtRest'), {});
  await until('enabled', () => getEar(a.store).state === 'enabled', 30_000);
  t.same(securityOf(a, 2), ['enabled', 'enabled', 'enabled'], "node 2's drives secured");
  t.same(securityOf(a, 1), ['enabled'], "node 1's drive secured");
});
