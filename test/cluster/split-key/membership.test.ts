// AddNodes and RemoveNodes split the drive-access key (DAK) again in their commit, the DAK
// put together from the calling node's share and a peer's over mutual TLS (real share
// servers on loopback): an added node gets a share that gives the DAK with any other, a
// removed node's share record goes and its old share combines with no new one. Without a
// peer to answer, or leaving one node, the change is refused and nothing is written.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { clusterUuid } from '../../../src/cluster/ear-state';
import { ElementError } from '../../../src/cluster/errors';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { activeNodes, pendingNodeKey } from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import type { DakAccess } from '../../../src/cluster/split-key/dak-access';
import { newSplitKeyIn, ownShare } from '../../../src/cluster/split-key/split-key';
import { SHARE_PREFIX, splitKeyState } from '../../../src/cluster/split-key/split-key-records';
import { nodeSealingKey } from '../../../src/store/node-sealing-key';
import { openSealer, openSqliteStore, type Json } from '../../../src/store';
import { combine } from '../../../src/util/shamir';
import { tempDir } from '../../store/tmpdir';
import { startShareNode, type ShareNode } from './share-nodes';

const CREATE = {
  acceptEula: true,
  mvip: '127.0.0.1',
  svip: '127.0.0.1',
  nodes: ['127.0.0.1'],
  username: 'admin',
  password: 'a long enough password',
};

/** Node 1 (its NodeService given its DAK access) and share nodes 2 and 3; the DAK split. */
async function cluster(t: Test) {
  const dir = tempDir(t);
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  let own: ShareNode | undefined;
  const dak: DakAccess = {
    holder: () => own?.holder,
    linkIdentity: () => own!.linkIdentity(),
    timeoutMs: 3000,
  };
  const nodes = new NodeService(store, nodeIdentity(dir, { name: 'node-1', ip: '127.0.0.1' }), {
    dak,
  });
  await nodes.start();
  t.teardown(async () => {
    await nodes.close();
    await store.close();
  });
  await new ClusterService(store, { nodes }).create(CREATE);
  const uuid = clusterUuid(store);
  const start = (nodeID: number, at = join(dir, `node${nodeID}`)) =>
    startShareNode(t, store, { nodeID, dir: at, clusterUuid: uuid });
  own = await start(1, dir);
  const peers = [await start(2), await start(3)];
  const key = await store.transaction((tx) => newSplitKeyIn(tx, activeNodes(tx), uuid));
  return { dir, store, nodes, own, peers, key, uuid };
}

/** Whether `shares` combine into `key` (two shares at one x combine into nothing). */
function givesKey(shares: Buffer[], key: Buffer): boolean {
  try {
    return combine(shares).equals(key);
  } catch {
    return false;
  }
}

async function errorOf(fn: () => Promise<unknown>): Promise<ElementError> {
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof ElementError) return err;
  throw new Error(`expected an ElementError, got ${String(err)}`);
}

t.test(
  'AddNodes gives the new node a share; RemoveNodes takes the removed one’s away',
  async (t) => {
    const { dir, store, nodes, own, peers, key } = await cluster(t);
    const generation = splitKeyState(store)!.generation;

    // Node 4 waits to be added, having published its sealing key.
    const fourDir = join(dir, 'node4');
    mkdirSync(fourDir, { mode: 0o700 });
    const fourKey = nodeSealingKey(fourDir, openSealer({ stateDir: fourDir }));
    const four = { ...nodeIdentity(fourDir, { name: 'node-4', ip: '127.0.0.1' }) };
    const lease = await store.grantLease(10);
    await lease.put(pendingNodeKey(four.uuid), {
      ...four,
      sealingKey: fourKey.publicKey,
      pendingNodeID: 1,
    } as unknown as Json);
    const [added] = await nodes.add([1]);
    await lease.revoke();
    t.equal(added!.nodeID, 4);
    const afterAdd = splitKeyState(store)!;
    t.equal(afterAdd.generation, generation + 1, 'split again under a new generation');
    t.same(afterAdd.nodeIDs, [1, 2, 3, 4]);
    const holder4 = { nodeID: 4, sealingKey: fourKey, clusterUuid: own.holder.clusterUuid };
    const share4 = ownShare(store, holder4, afterAdd.generation)!;
    const share2 = ownShare(store, peers[0]!.holder, afterAdd.generation)!;
    t.ok(combine([share4, share2]).equals(key), 'the new node’s share and node 2’s give the DAK');

    const old3 = ownShare(store, peers[1]!.holder, afterAdd.generation)!;
    await nodes.remove([3]);
    const afterRemove = splitKeyState(store)!;
    t.equal(afterRemove.generation, afterAdd.generation + 1);
    t.same(afterRemove.nodeIDs, [1, 2, 4]);
    t.notOk(
      store.list(SHARE_PREFIX).some((e) => e.key === `${SHARE_PREFIX}3`),
      'node 3’s share record deleted',
    );
    for (const holder of [own.holder, peers[0]!.holder, holder4]) {
      const current = ownShare(store, holder, afterRemove.generation)!;
      t.notOk(givesKey([old3, current], key), `node 3’s old share with node ${holder.nodeID}’s`);
    }
    const one = ownShare(store, own.holder, afterRemove.generation)!;
    t.ok(combine([one, ownShare(store, holder4, afterRemove.generation)!]).equals(key));
  },
);

t.test('no peer to answer, or one node left: refused, nothing written', async (t) => {
  const { store, nodes, peers } = await cluster(t);
  for (const p of peers) await p.down();
  const before = store.revision();
  const err = await errorOf(() => nodes.remove([3]));
  t.equal(err.elementName, 'xDriveAccessKeyUnavailable');
  t.match(err.message, /node 2: .*ECONNREFUSED/);
  t.equal(store.revision(), before, 'nothing written');
  t.equal(activeNodes(store).length, 3);

  await peers[0]!.up();
  await nodes.remove([3]);
  t.same(splitKeyState(store)!.nodeIDs, [1, 2], 'with node 2 back, node 3 removed');
  const left = store.revision();
  const alone = await errorOf(() => nodes.remove([2]));
  t.equal(alone.elementName, 'xEnsembleInvalidSize');
  t.match(alone.message, /2 nodes or more/);
  t.equal(store.revision(), left, 'nothing written');
});
