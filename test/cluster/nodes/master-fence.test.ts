// The master fence: a master's write commits only while the store's master key names this
// node and the lease of its term. On SQLite (one node) a master writes, and a node that is
// no longer master writes nothing. On etcd a write a master sent before it was replaced,
// arriving at etcd after another node took the key, is not applied: the transaction read
// the key, its compare fails, and run again it sees the new master and throws.
import t from 'tap';
import { startEtcd } from '../../../scripts/etcd/members';
import { fencedStore } from '../../../src/cluster/nodes/fenced-store';
import { MasterElection } from '../../../src/cluster/nodes/master-election';
import { MasterFence, NotMasterError } from '../../../src/cluster/nodes/master-fence';
import { MASTER_KEY, type MasterRecord } from '../../../src/cluster/nodes/node-records';
import type { Store } from '../../../src/store';
import { client, etcdBackend, fresh, sqliteBackend } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const TTL = 2;

const holder = (store: Store) => store.get<MasterRecord>(MASTER_KEY)?.value;

t.test('SQLite: the master writes; stopped, it writes nothing', async (t) => {
  const { store } = await fresh(t, sqliteBackend());
  const election = new MasterElection(store, 1, { ttlSeconds: TTL });
  t.teardown(() => election.stop());
  await election.settled();
  t.ok(election.isMaster(), 'the only node is master');
  const term = election.term()!;
  t.match(holder(store), { nodeID: 1, lease: term.lease }, 'the key names the term');
  await election.fence.transaction((tx) => tx.put('jobs/a', 1));
  t.equal(store.get('jobs/a')?.value, 1, 'written while master');
  const fenced = fencedStore(election.fence);
  await fenced.put('jobs/b', 2);
  t.equal(store.get('jobs/b')?.value, 2, 'a single-key write through the fenced store');

  await election.stop();
  await t.rejects(
    election.fence.transaction((tx) => tx.put('jobs/c', 3)),
    NotMasterError,
    'no longer master',
  );
  await t.rejects(fenced.put('jobs/c', 3), NotMasterError);
  await t.rejects(fenced.delete('jobs/a'), NotMasterError);
  // A fence that still believes in the old term: the store's key says otherwise.
  const stale = new MasterFence(store, () => term);
  await t.rejects(
    stale.transaction((tx) => tx.put('jobs/c', 3)),
    NotMasterError,
  );
  t.equal(store.get('jobs/c'), undefined, 'nothing written');
  t.equal(store.get('jobs/a')?.value, 1, 'nothing deleted');
});

t.test('a pinned fence writes in its own term only', async (t) => {
  const { store } = await fresh(t, sqliteBackend());
  let term = { nodeID: 1, lease: 'lease-1' };
  await store.put(MASTER_KEY, term);
  const fence = new MasterFence(store, () => term);
  const pinned = fence.pinned();
  await pinned.transaction((tx) => tx.put('jobs/first', 1));
  t.equal(store.get('jobs/first')?.value, 1, 'written in its term');
  // The same node master again, in a later term (a new lease).
  term = { nodeID: 1, lease: 'lease-2' };
  await store.put(MASTER_KEY, term);
  await t.rejects(
    pinned.transaction((tx) => tx.put('jobs/late', 1)),
    NotMasterError,
  );
  t.equal(store.get('jobs/late'), undefined, 'nothing written in the later term');
  await fence.transaction((tx) => tx.put('jobs/now', 1));
  t.equal(store.get('jobs/now')?.value, 1, 'the unpinned fence follows the term');
});

void (async () => {
  const cluster = await startEtcd(t);
  const backend = etcdBackend(cluster.endpoints);

  t.test('etcd: a write sent before the master was replaced is not applied', async (t) => {
    const location = backend.fresh(t);
    const racer = await backend.racer!(t, location);
    const other = await client(t, location);
    const first = new MasterElection(racer.store, 1, { ttlSeconds: TTL });
    await until('node 1 is master', () => first.isMaster());
    const second = new MasterElection(other, 2, { ttlSeconds: TTL });
    t.teardown(async () => {
      racer.release();
      await Promise.all([first.stop(), second.stop()]);
    });
    await second.settled();
    t.notOk(second.isMaster(), 'node 2 follows');
    // A fence that keeps node 1's term whatever its election learns, so that the write
    // leaves node 1 and only the store can refuse it.
    const stale = new MasterFence(racer.store, () => ({
      nodeID: 1,
      lease: holder(racer.store)!.lease!,
    }));
    await stale.transaction((tx) => tx.put('jobs/before', 1));
    await until('node 2 sees the master write', () => other.get('jobs/before')?.value === 1);

    racer.hold(); // node 1's requests (keep-alives, the write below) wait in the network
    const late = stale.transaction((tx) => tx.put('jobs/late', 1));
    late.catch(() => undefined);
    await until('node 2 is elected', () => second.isMaster());
    t.equal(holder(other)?.nodeID, 2);
    racer.release(); // node 1's write reaches etcd now, after node 2 took the key
    const err = await late.then(
      () => undefined,
      (e: Error) => e,
    );
    t.type(err, NotMasterError, `refused: ${err?.message}`);
    await other.put('jobs/marker', 1); // a later write: node 2's view has everything before it
    t.equal(other.get('jobs/late'), undefined, 'nothing written');
    t.notOk(first.isMaster(), 'node 1 no longer acts as master');
    await t.rejects(
      first.fence.transaction((tx) => tx.put('jobs/late', 2)),
      NotMasterError,
    );
    await second.fence.transaction((tx) => tx.put('jobs/new', 2));
    t.equal(other.get('jobs/new')?.value, 2, 'the new master writes');
  });
})();
