// A master cut off from etcd (three members; its connection through a proxy that holds
// what it sends) stops acting as master before its lease can have expired at etcd, so no
// two nodes act as master at once; another node is elected within 10 s. Cut off for less
// than the lease, it steps down and acts again once its refreshes get through.
import t from 'tap';
import { startEtcd } from '../../../scripts/etcd/members';
import {
  MASTER_LEASE_TTL_SECONDS,
  MasterElection,
} from '../../../src/cluster/nodes/master-election';
import { MASTER_KEY, type MasterRecord } from '../../../src/cluster/nodes/node-records';
import type { Store } from '../../../src/store';
import { client, etcdBackend } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const holder = (store: Store) => store.get<MasterRecord>(MASTER_KEY)?.value.nodeID;

/** Samples how many elections act as master at once; the most seen. */
function actingAtOnce(elections: MasterElection[]): { most: () => number; stop: () => void } {
  let most = 0;
  const timer = setInterval(() => {
    most = Math.max(most, elections.filter((e) => e.isMaster()).length);
  }, 5);
  return { most: () => most, stop: () => clearInterval(timer) };
}

void (async () => {
  const cluster = await startEtcd(t, { members: 3 });
  const backend = etcdBackend(cluster.endpoints);

  t.test('cut off: steps down before the lease TTL, another elected within 10 s', async (t) => {
    const location = backend.fresh(t);
    const racer = await backend.racer!(t, location);
    const stores = [await client(t, location), await client(t, location)];
    const ttlSeconds = MASTER_LEASE_TTL_SECONDS;
    const master = new MasterElection(racer.store, 1, { ttlSeconds });
    await until('node 1 is master', () => master.isMaster());
    const others = stores.map((s, i) => new MasterElection(s, i + 2, { ttlSeconds }));
    const all = [master, ...others];
    const sampler = actingAtOnce(all);
    t.teardown(async () => {
      sampler.stop();
      racer.release();
      await Promise.all(all.map((e) => e.stop()));
    });
    await Promise.all(others.map((e) => e.settled()));
    const cutAt = Date.now();
    racer.hold();
    const steppedDown = await until('node 1 steps down', () => !master.isMaster());
    t.comment(`stepped down ${steppedDown} ms after the cut (lease TTL ${ttlSeconds} s)`);
    t.ok(steppedDown < ttlSeconds * 1000, 'before its lease could expire at etcd');
    await until('another node is elected', () => others.some((e) => e.isMaster()), 10_000);
    const failover = Date.now() - cutAt;
    t.comment(`another master ${failover} ms after the cut`);
    t.ok(failover <= 10_000, 'within 10 s');
    t.equal(sampler.most(), 1, 'never two acting masters');
    const next = others.findIndex((e) => e.isMaster()) + 2;
    t.equal(holder(stores[0]!), next, 'the key names the new master');

    racer.release();
    // Its lease expired at etcd: node 1 learns so and follows.
    await new Promise((r) => setTimeout(r, 2_000));
    t.notOk(master.isMaster(), 'node 1, back, does not act as master');
    t.equal(holder(stores[0]!), next, 'nor takes the key');
    t.equal(sampler.most(), 1, 'still never two');
  });

  t.test('cut off briefly: steps down, then acts again once the store answers', async (t) => {
    const location = backend.fresh(t);
    const racer = await backend.racer!(t, location);
    const other = await client(t, location);
    const ttlSeconds = 4;
    const master = new MasterElection(racer.store, 1, { ttlSeconds });
    await until('node 1 is master', () => master.isMaster());
    const follower = new MasterElection(other, 2, { ttlSeconds });
    const sampler = actingAtOnce([master, follower]);
    t.teardown(async () => {
      sampler.stop();
      racer.release();
      await Promise.all([master.stop(), follower.stop()]);
    });
    const leaseBefore = master.term()!.lease;
    racer.hold();
    await until('node 1 steps down', () => !master.isMaster());
    racer.release(); // before the lease could expire: its held refresh reaches etcd in time
    const back = await until('node 1 acts again', () => master.isMaster());
    t.comment(`acting again ${back} ms after the store answered`);
    t.equal(master.term()?.lease, leaseBefore, 'in the same term');
    t.equal(holder(other), 1, 'still the holder');
    t.notOk(follower.isMaster());
    t.equal(sampler.most(), 1, 'never two acting masters');
    await master.fence.transaction((tx) => tx.put('jobs/after', 1));
    t.ok(racer.store.get('jobs/after'), 'its fenced writes commit again');
  });
})();
