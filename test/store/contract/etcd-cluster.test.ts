// Three etcd members: the transaction and watch contract with clients spread over the
// members; quorum lost (two of three stopped) and back; a watch whose member is killed
// while the others go on committing.
import t from 'tap';
import { StoreUnavailableError, type AsyncStore } from '../../../src/store';
import { openEtcdStore } from '../../../src/store/etcd';
import { startEtcd } from '../../helpers/etcd';
import { etcdBackend } from './backends';
import { collect, rejection } from './helpers';
import { runContract } from './index';
import { txCases } from './cases-tx';
import { watchCases } from './cases-watch';

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
  const contract = new Set([...Object.keys(txCases), ...Object.keys(watchCases)]);
  runContract(t, etcdBackend(cluster.endpoints, 'etcd x3'), (name) => contract.has(name));

  t.test('a watch whose member is killed resumes from the next change', async (t) => {
    const config = { endpoints: [cluster.endpoints[1], cluster.endpoints[2]], prefix: prefix() };
    const writer = await openEtcdStore(config, { create: true });
    t.teardown(() => writer.close());
    const watcher = await openEtcdStore({ ...config, endpoints: [cluster.endpoints[0]] });
    t.teardown(() => watcher.close());
    const seen = await collect(t, watcher, 'k/');
    const revisions: number[] = [];
    for (let i = 0; i < 5; i++) revisions.push(await writer.put(`k/${i}`, i));
    await seen.count(5);
    await cluster.kill(0);
    // Writes wait for the other two to agree on a leader (m0 may have been it).
    await cluster.healthy(1);
    for (let i = 5; i < 15; i++) revisions.push(await writer.put(`k/${i}`, i));
    await cluster.restart(0);
    for (let i = 15; i < 18; i++) revisions.push(await writer.put(`k/${i}`, i));
    await seen.count(18, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.same(
      seen.changes.map((c) => c.revision),
      revisions,
      'every change once, those made while its member was down included',
    );
  });

  t.test(
    'quorum lost: clear errors in bounded time, nothing half-written; then back',
    async (t) => {
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
        ['read', () => store.get('before')],
        [
          'transaction',
          () =>
            store.transaction((tx) => {
              for (let i = 0; i < 5; i++) tx.put(`batch/${i}`, i);
            }),
        ],
      ];
      for (const [what, attempt] of attempts) {
        const started = Date.now();
        const err = await rejection(attempt());
        const took = Date.now() - started;
        t.ok(err instanceof StoreUnavailableError, `${what}: ${err.message}`);
        t.match(
          err.message,
          `etcd at ${cluster.endpoints.join(', ')}`,
          `${what}: names the endpoints`,
        );
        t.ok(
          took <= 3 * timeout,
          `${what}: failed in ${took} ms (deadline ${timeout} ms per call)`,
        );
      }
      await Promise.all([
        cluster.restart(1, { waitHealthy: false }),
        cluster.restart(2, { waitHealthy: false }),
      ]);
      const back: AsyncStore = store;
      await eventually(30_000, () => back.put('after', 1));
      t.equal((await store.get('after'))!.value, 1, 'writes work again');
      const batch = await store.list('batch/');
      t.ok(
        batch.length === 0 || batch.length === 5,
        `the transaction is whole or absent (${batch.length})`,
      );
      t.equal((await store.get('before'))!.value, 1);
    },
  );
})();
