// The master election on etcd, three nodes sharing one prefix: exactly one holds the master
// key; a master that stops hands over at once; a master cut off from etcd loses the key
// when its lease runs out, knows it has lost it, and another node is elected.
import t from 'tap';
import { startEtcd } from '../../../scripts/etcd/members';
import { MasterElection } from '../../../src/cluster/nodes/master-election';
import { MASTER_KEY, type MasterRecord } from '../../../src/cluster/nodes/node-records';
import type { Store } from '../../../src/store';
import { client, etcdBackend } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const TTL = 2;

const holder = (store: Store) => store.get<MasterRecord>(MASTER_KEY)?.value.nodeID;

void (async () => {
  const cluster = await startEtcd(t);
  const backend = etcdBackend(cluster.endpoints);

  t.test('one master among three; a clean stop hands over at once', async (t) => {
    const location = backend.fresh(t);
    const stores = [
      await client(t, location),
      await client(t, location),
      await client(t, location),
    ];
    const elections = stores.map((s, i) => new MasterElection(s, i + 1, { ttlSeconds: TTL }));
    t.teardown(() => Promise.all(elections.map((e) => e.stop())));
    await until('a master', () => elections.some((e) => e.isMaster()));
    await Promise.all(elections.map((e) => e.settled()));
    const leaders = elections.filter((e) => e.isMaster());
    t.equal(leaders.length, 1, 'exactly one master');
    const first = elections.indexOf(leaders[0]!);
    for (const s of stores) {
      await until('every view names the master', () => holder(s) === first + 1);
    }
    const stoppedAt = Date.now();
    await elections[first]!.stop();
    await until('another master', () => elections.some((e, i) => i !== first && e.isMaster()));
    t.comment(`handover after a clean stop: ${Date.now() - stoppedAt} ms`);
    const next = elections.findIndex((e) => e.isMaster());
    t.not(next, first);
    await until('the views name the new master', () => holder(stores[first]!) === next + 1);
    t.equal(elections.filter((e) => e.isMaster()).length, 1, 'still exactly one');
  });

  t.test('a master cut off from etcd loses the key within its lease, and knows it', async (t) => {
    const location = backend.fresh(t);
    const racer = await backend.racer!(t, location);
    const other = await client(t, location);
    const cutOff = new MasterElection(racer.store, 1, { ttlSeconds: TTL });
    await until('the first node is master', () => cutOff.isMaster());
    const follower = new MasterElection(other, 2, { ttlSeconds: TTL });
    t.teardown(async () => {
      racer.release();
      await Promise.all([cutOff.stop(), follower.stop()]);
    });
    await follower.settled();
    t.notOk(follower.isMaster(), 'a follower while the master lives');
    const cutAt = Date.now();
    racer.hold(); // its keep-alives no longer reach etcd
    await until('the follower is elected', () => follower.isMaster(), 20_000);
    const failover = Date.now() - cutAt;
    t.comment(`failover after the master was cut off: ${failover} ms (lease TTL ${TTL} s)`);
    t.equal(holder(other), 2);
    await until('the cut-off node stops acting as master', () => !cutOff.isMaster(), 20_000);
    racer.release();
    await cutOff.settled();
    t.equal(holder(other), 2, 'the old master, back, does not take the key again');
  });
})();
