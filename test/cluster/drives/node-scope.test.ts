// Which nodeID a node takes while no node is recorded: node 1 on a single node's store
// (drives found before CreateCluster are node 1's), none on a shared store, where several
// pending nodes would otherwise all take themselves for node 1; once nodes are recorded,
// the one with this node's UUID.
import t from 'tap';
import { NodeScope } from '../../../src/cluster/drives/node-scope';
import { activeNodeKey } from '../../../src/cluster/nodes/node-records';
import type { Json } from '../../../src/store';
import { openTestStore } from '../../helpers/test-store';
import { tempDir } from '../../store/tmpdir';

t.test('nodeID before and after nodes are recorded', async (t) => {
  const store = await openTestStore(tempDir(t));
  t.teardown(() => store.close());
  const alone = new NodeScope('uuid-a');
  const shared = new NodeScope('uuid-a', true);
  t.equal(alone.nodeID(store), 1, 'a single node is node 1 from the start');
  t.equal(shared.nodeID(store), undefined, 'on a shared store, no nodeID before the cluster');
  t.same(shared.drives(store), [], 'and no drive of its own');

  await store.put(activeNodeKey(1), { nodeID: 1, uuid: 'uuid-b' } as unknown as Json);
  await store.put(activeNodeKey(2), { nodeID: 2, uuid: 'uuid-a' } as unknown as Json);
  t.equal(alone.nodeID(store), 2, 'its record names it');
  t.equal(shared.nodeID(store), 2, 'the same on a shared store');
  t.equal(new NodeScope('uuid-c', true).nodeID(store), undefined, 'a node not recorded: none');
});
