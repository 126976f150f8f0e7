// Node failures, all real processes (a 3-member etcd, the dev key server, three ekmd nodes
// with their simulators on 127.0.0.1-3, created as one cluster). A node stopped: the master
// raises nodeOffline for it about one lease TTL later (its alive key goes at once, then one
// TTL of grace) and resolves it when the node is back. The master killed with kill -9: another
// node is master within 10 s (its lease runs out, the others run for it), every survivor
// names it, and the killed node rejoins as itself.
import t from 'tap';
import { MASTER_LEASE_TTL_SECONDS } from '../../src/cluster/nodes/master-election';
import { currentFaults, masterOf, startCreatedCluster, until } from './fixtures/cluster';

const TTL_MS = MASTER_LEASE_TTL_SECONDS * 1000;
/**
 * A stopped node's key goes at once; the master waits one TTL, checking every TTL / 4; the
 * rest is room for a loaded machine. (A killed node's key lasts one TTL more.)
 */
const OFFLINE_WITHIN_MS = TTL_MS + 3_000;
const FAILOVER_WITHIN_MS = 10_000;

t.test('nodeOffline, and the master killed', async (t) => {
  const { cluster, apis } = await startCreatedCluster(t, 3, { drives: () => 1 });
  const master = await until('a master', () => masterOf(apis[0]!), 10_000);
  // Node N is nodeID N (CreateCluster names them in order).
  const other = (not: number[]) => [1, 2, 3].find((n) => !not.includes(n))!;

  t.test('a node stopped is offline until it returns', async (t) => {
    const victim = other([master]);
    const watcher = apis[other([master, victim]) - 1]!;
    await cluster.nodes[victim - 1]!.stop();
    const stoppedAt = Date.now();
    const fault = await until(
      'nodeOffline',
      async () => (await currentFaults(watcher, 'nodeOffline')).find((f) => f.nodeID === victim),
      OFFLINE_WITHIN_MS + 5_000,
    );
    const took = Date.now() - stoppedAt;
    t.ok(took <= OFFLINE_WITHIN_MS, `nodeOffline for node ${victim} after ${took} ms`);
    t.match(fault.details, `Node ID ${victim} is offline`, 'the fault names the node');

    await cluster.nodes[victim - 1]!.start();
    await until(
      'nodeOffline resolved',
      async () =>
        (await currentFaults(watcher, 'nodeOffline')).some((f) => f.nodeID === victim)
          ? undefined
          : true,
      OFFLINE_WITHIN_MS,
    );
    t.pass(`resolved once node ${victim} is back`);
  });

  t.test('kill -9 of the master: a new master within 10 s', async (t) => {
    const survivors = [1, 2, 3].filter((n) => n !== master);
    await cluster.nodes[master - 1]!.kill9();
    const killedAt = Date.now();
    const next = await until(
      'a new master',
      async () => {
        const m = await masterOf(apis[survivors[0]! - 1]!);
        return m !== master ? m : undefined;
      },
      FAILOVER_WITHIN_MS + 10_000,
      100,
    );
    const took = Date.now() - killedAt;
    t.ok(took <= FAILOVER_WITHIN_MS, `node ${next} master ${took} ms after the kill`);
    t.ok(survivors.includes(next), 'a survivor');
    for (const n of survivors) {
      t.equal(
        await until(
          'the same master',
          async () => ((await masterOf(apis[n - 1]!)) === next ? next : undefined),
          5_000,
        ),
        next,
        `node ${n} names node ${next}`,
      );
    }
    // The new master sees the killed node gone: nodeOffline, resolved when it rejoins.
    await until(
      'nodeOffline for the killed master',
      async () =>
        (await currentFaults(apis[next - 1]!, 'nodeOffline')).find((f) => f.nodeID === master),
      2 * OFFLINE_WITHIN_MS,
    );
    const killed = cluster.nodes[master - 1]!;
    await killed.start();
    const rejoined = await until(
      'the killed node rejoins',
      async () => killed.logLines().find((l) => l.msg === 'this node is in the cluster'),
      10_000,
    );
    t.equal(rejoined.nodeID, master, `the killed node is back as node ${master}`);
    await until(
      'nodeOffline resolved',
      async () =>
        (await currentFaults(apis[next - 1]!, 'nodeOffline')).length === 0 ? true : undefined,
      OFFLINE_WITHIN_MS,
    );
    t.pass('and no node is offline');
  });
});
