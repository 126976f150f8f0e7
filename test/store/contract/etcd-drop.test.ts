// Watches across connection drops, on one etcd member: the client's connection cut (a
// proxy in between) while changes go on, and the member itself killed and restarted.
// Every change arrives once, in order: none lost, none repeated.
import t from 'tap';
import type { AsyncStore, StoreChange } from '../../../src/store';
import { openEtcdStore } from '../../../src/store/etcd';
import { startEtcd } from '../../helpers/etcd';
import { startTcpProxy } from '../../helpers/tcp-proxy';
import { collect, until } from './helpers';

let n = 0;
const prefix = () => `/ekmd-drop/${process.pid}-${++n}/`;

/** The puts and deletes `changes` should be: every write made, in order, once. */
function expected(writes: [string, string, number][]): string[] {
  return writes.map(([type, key, revision]) => `${type} ${key} @${revision}`);
}

function described(changes: StoreChange[]): string[] {
  return changes.map((c) =>
    c.type === 'resync' ? `resync @${c.revision}` : `${c.type} ${c.key} @${c.revision}`,
  );
}

async function write(
  store: AsyncStore,
  writes: [string, string, number][],
  from: number,
  to: number,
) {
  for (let i = from; i < to; i++) {
    const key = `d/${i % 4}`;
    if (i % 5 === 4) {
      if (await store.delete(key)) writes.push(['delete', key, await store.revision()]);
    } else {
      writes.push(['put', key, await store.put(key, i)]);
    }
  }
}

void (async () => {
  const cluster = await startEtcd(t);
  const port = Number(new URL(cluster.endpoints[0]).port);

  t.test('a watch through a cut connection resumes where it was', async (t) => {
    const proxy = await startTcpProxy(t, { host: '127.0.0.1', port });
    const config = { endpoints: cluster.endpoints, prefix: prefix() };
    const writer = await openEtcdStore(config, { create: true });
    t.teardown(() => writer.close());
    const watcherStore = await openEtcdStore({
      ...config,
      endpoints: [`http://127.0.0.1:${proxy.port}`],
    });
    t.teardown(() => watcherStore.close());
    const errors: Error[] = [];
    const seen = await collect(t, watcherStore, 'd/', { onError: (e) => errors.push(e) });
    const writes: [string, string, number][] = [];
    await write(writer, writes, 0, 10);
    await seen.count(writes.length);
    for (let round = 0; round < 3; round++) {
      proxy.cut();
      await write(writer, writes, 10 + round * 20, 30 + round * 20);
      await new Promise((resolve) => setTimeout(resolve, 300));
      proxy.restore();
      await seen.count(writes.length, 20_000);
    }
    await write(writer, writes, 100, 105);
    await seen.count(writes.length);
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.same(described(seen.changes), expected(writes), 'every change once, in order');
    t.same(errors, []);
  });

  t.test('a drop while etcd is still catching a watch up loses nothing', async (t) => {
    // etcd sends a late watch its history a thousand revisions per response, each stamped
    // with the current revision: resuming after that stamp (etcd3's own way) would skip
    // the rest. Cut the connection from inside the first delivery.
    const proxy = await startTcpProxy(t, { host: '127.0.0.1', port });
    const config = { endpoints: cluster.endpoints, prefix: prefix() };
    const writer = await openEtcdStore(config, { create: true });
    t.teardown(() => writer.close());
    const total = 2500;
    const first = await writer.put('h/0', 0);
    for (let i = 1; i < total; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, total - i) }, (_, k) => writer.put(`h/${i + k}`, i + k)),
      );
    }
    const watcherStore = await openEtcdStore({
      ...config,
      endpoints: [`http://127.0.0.1:${proxy.port}`],
    });
    t.teardown(() => watcherStore.close());
    const changes: StoreChange[] = [];
    let cut = false;
    const stop = await watcherStore.watch(
      'h/',
      (c) => {
        changes.push(c);
        if (!cut) {
          cut = true;
          proxy.cut();
          setTimeout(() => proxy.restore(), 300);
        }
      },
      { fromRevision: first },
    );
    t.teardown(() => stop());
    await until(
      () => `${total} changes (have ${changes.length})`,
      () => changes.length >= total,
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.ok(cut, 'the connection was cut mid-catch-up');
    const keys = changes.map((c) => (c.type === 'put' ? Number(c.key.slice(2)) : -1));
    t.equal(changes.length, total, 'no change twice');
    t.equal(new Set(keys).size, total, 'every change once');
    const revisions = changes.map((c) => c.revision);
    t.ok(
      revisions.every((r, i) => i === 0 || r > revisions[i - 1]),
      'in revision order',
    );
  });

  t.test('a watch across its member killed and restarted: nothing repeated', async (t) => {
    const own = await startEtcd(t);
    t.comment(`a second member healthy in ${own.startMs} ms`);
    const store = await openEtcdStore(
      { endpoints: own.endpoints, prefix: prefix() },
      { create: true },
    );
    t.teardown(() => store.close());
    const seen = await collect(t, store, 'd/');
    const writes: [string, string, number][] = [];
    await write(store, writes, 0, 10);
    await seen.count(writes.length);
    await own.kill(0);
    await own.restart(0);
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      back = await store.revision().then(
        () => true,
        () => new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200)),
      );
    }
    t.ok(back, 'etcd answers again');
    await write(store, writes, 10, 20);
    await seen.count(writes.length, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.same(described(seen.changes), expected(writes));
  });
})();
