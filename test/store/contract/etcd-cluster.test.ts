// Three etcd members: the whole contract, with stores reaching every member; a node whose
// member is killed while the others go on committing; quorum lost (two of three stopped)
// and back.
import t from 'tap';
import { StoreUnavailableError, type Store } from '../../../src/store';
import { openEtcdStore } from '../../../src/store/etcd';
import { startEtcd } from '../../../scripts/etcd/members';
import { etcdBackend } from './backends';
import { collect, contents, refusal, until } from './helpers';
import { runContract } from './index';

let n = 0;
const prefix = () => `/ekmd-cluster/${process.pid}-${++n}/`;

/** Retry `fn` until it succeeds (etcd coming back), at most `ms`. */
async function eventually<R>(ms: number, fn: () => Promise<R>): Promise<R> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

void (async () => {
  const cluster = await startEtcd(t, { members: 3 });
  t.comment(`three etcd members healthy in ${cluster.startMs} ms`);
  runContract(t, etcdBackend(cluster.endpoints, 'etcd x3'));

  t.test('a node whose member is killed: nothing lost or repeated when it is back', async (t) => {
    const config = { endpoints: [cluster.endpoints[1], cluster.endpoints[2]], prefix: prefix() };
    const writer = await openEtcdStore(config, { create: true });
    t.teardown(() => writer.close());
    const node = await openEtcdStore(
      { ...config, endpoints: [cluster.endpoints[0]] },
      { requestTimeoutMs: 3000, maxDisconnectedMs: 500 },
    );
    t.teardown(() => node.close());
    const seen = collect(t, node, 'k/');
    const revisions: number[] = [];
    for (let i = 0; i < 5; i++) revisions.push(await writer.put(`k/${i}`, i));
    await seen.count(5);
    await cluster.kill(0);
    // Writes wait for the other two to agree on a leader (m0 may have been it).
    await cluster.healthy(1);
    for (let i = 5; i < 15; i++) revisions.push(await writer.put(`k/${i}`, i));
    t.equal(node.list('k/').length, 5, 'reads serve the last view');
    await until('the node notices', () => node.viewHealth().disconnectedMs > 500);
    const err = await refusal(() => node.put('k/x', 1));
    t.ok(err instanceof StoreUnavailableError, err.message);
    await cluster.restart(0);
    for (let i = 15; i < 18; i++) revisions.push(await writer.put(`k/${i}`, i));
    await seen.count(18, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.same(
      seen.changes.map((c) => c.revision),
      revisions,
      'every change once, those made while its member was down included',
    );
    await eventually(10_000, () => node.put('k/x', 'back'));
    await until('the writer sees it', () => writer.get('k/x') !== undefined);
    t.same(contents(node), contents(writer), 'the views agree');
  });

  t.test('quorum lost: writes fail clearly in bounded time, reads go on; then back', async (t) => {
    const timeout = 2000;
    const store = await openEtcdStore(
      { endpoints: cluster.endpoints, prefix: prefix() },
      { create: true, requestTimeoutMs: timeout },
    );
    t.teardown(() => store.close());
    await store.put('before', 1);
    await cluster.kill(1);
    await cluster.kill(2);
    const attempts: [string, () => Promise<unknown>][] = [
      ['put', () => store.put('during', 1)],
      [
        'transaction',
        () =>
          store.transaction((tx) => {
            for (let i = 0; i < 5; i++) tx.put(`batch/${i}`, i);
          }),
      ],
      ['compare-and-set', () => store.compareAndSet('before', store.get('before')!.revision, 2)],
    ];
    for (const [what, attempt] of attempts) {
      const started = Date.now();
      const err = await refusal(attempt);
      const took = Date.now() - started;
      t.ok(err instanceof StoreUnavailableError, `${what}: ${err.message}`);
      t.match(err.message, `etcd at ${cluster.endpoints.join(', ')}`, `${what}: names endpoints`);
      t.ok(took <= 2 * timeout, `${what}: failed in ${took} ms (deadline ${timeout} ms)`);
      t.equal(store.get('before')!.value, 1, `${what}: reads serve the last view`);
    }
    t.ok(store.viewHealth().commitFailing, 'the view health says etcd cannot commit');
    await Promise.all([
      cluster.restart(1, { waitHealthy: false }),
      cluster.restart(2, { waitHealthy: false }),
    ]);
    const back: Store = store;
    await eventually(30_000, () => back.put('after', 1));
    t.equal(store.get('after')!.value, 1, 'writes work again');
    const batch = store.list('batch/');
    t.ok(
      batch.length === 0 || batch.length === 5,
      `the transaction is whole or absent (${batch.length})`,
    );
    t.equal(store.get('before')!.value, 1);
    await until('the view is connected', () => store.viewHealth().connected, 20_000);
    t.equal(store.viewHealth().commitFailing, false);
  });
})();
