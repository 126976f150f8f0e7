// A transaction whose function throws (how a state-changing call refuses on a precondition)
// on etcd: the refusal is given only once etcd confirms what the function read is current.
// Two nodes on one member; one node's view is held a watch delivery behind while the other
// commits, so the first decides on the old value, deterministically.
import t, { type Test } from 'tap';
import { Etcd3 } from 'etcd3';
import { StoreConflictError, type Store } from '../../../src/store';
import { openEtcdStore, type EtcdOpenOptions } from '../../../src/store/etcd';
import type { EtcdIo } from '../../../src/store/etcd/client';
import type { WatchSink } from '../../../src/store/etcd/watch';
import { startEtcd } from '../../../scripts/etcd/members';
import { startTcpProxy } from '../../helpers/tcp-proxy';
import { refusal, until } from './helpers';

let n = 0;
const prefix = () => `/ekmd-refusal/${process.pid}-${++n}/`;

/** An error of the function's own, as a precondition refusal is. */
class NotEnabled extends Error {}

/** Hold the watch's deliveries to `store`'s view until release(); then they arrive, in order. */
function holdView(store: Store): { release(): void } {
  const view = (store as unknown as { view: WatchSink }).view;
  const deliver = view.changes.bind(view);
  const held: Parameters<WatchSink['changes']>[] = [];
  let holding = true;
  view.changes = (events, revision) => {
    if (holding) held.push([events, revision]);
    else deliver(events, revision);
  };
  return {
    release() {
      holding = false;
      for (const [events, revision] of held.splice(0)) deliver(events, revision);
    },
  };
}

/** Counts `store`'s etcd Txns: sent, and answered. */
function countTxns(store: Store): { sent: number; answered: number } {
  const kv = (store as unknown as { io: EtcdIo }).io.client.kv;
  const txn = kv.txn.bind(kv);
  const count = { sent: 0, answered: 0 };
  kv.txn = (...args: Parameters<typeof txn>) => {
    count.sent++;
    return txn(...args).finally(() => count.answered++);
  };
  return count;
}

void (async () => {
  const cluster = await startEtcd(t);
  const raw = new Etcd3({ hosts: cluster.endpoints });
  t.teardown(() => raw.close());
  const etcdRevision = async () =>
    Number((await raw.kv.range({ key: Buffer.from('none') })).header.revision);

  /** Two nodes on a fresh prefix; both views hold ear = "enabling". */
  async function nodes(t: Test, options: EtcdOpenOptions = {}, endpoints = cluster.endpoints) {
    const config = { endpoints: cluster.endpoints, prefix: prefix() };
    const b = await openEtcdStore(config, { create: true });
    t.teardown(() => b.close());
    const a = await openEtcdStore({ ...config, endpoints }, options);
    t.teardown(() => a.close());
    await b.put('ear', 'enabling');
    await until('node A sees ear', () => a.get('ear')?.value === 'enabling');
    return { a, b };
  }

  /** Disable: refused unless ear is enabled (as the API's DisableEncryptionAtRest is). */
  const disable = (seen: unknown[]) => (tx: Parameters<Parameters<Store['transaction']>[0]>[0]) => {
    const ear = tx.get<string>('ear')!.value;
    seen.push(ear);
    if (ear !== 'enabled') throw new NotEnabled(`Encryption at rest is ${ear}`);
    tx.put('ear', 'disabling');
    return ear;
  };

  t.test('a refusal decided on a view behind etcd runs again on the new value', async (t) => {
    const { a, b } = await nodes(t);
    const held = holdView(a);
    await b.put('ear', 'enabled');
    t.equal(a.get('ear')!.value, 'enabling', "node A's view is one delivery behind");
    const txns = countTxns(a);
    const seen: unknown[] = [];
    let settled = false;
    const running = a.transaction(disable(seen)).finally(() => (settled = true));
    running.catch(() => undefined); // awaited below
    // Released once etcd answered the check: the rerun waits for the view, not a race.
    await until('the check of the refusal', () => txns.answered >= 1 || settled);
    held.release();
    t.equal(await running, 'enabled', 'not refused: its last run saw the new value');
    t.same(seen, ['enabling', 'enabled'], 'refused on the old value, then ran again');
    t.equal(txns.sent, 2, 'one check, then the commit');
    await until('node B sees the commit', () => b.get('ear')?.value === 'disabling');
  });

  t.test(
    'a refusal on the current value: its own error, once; the check writes nothing',
    async (t) => {
      const { a } = await nodes(t);
      const txns = countTxns(a);
      const before = await etcdRevision();
      const seen: unknown[] = [];
      let thrown: unknown;
      const err = await refusal(() =>
        a.transaction((tx) => {
          try {
            return disable(seen)(tx);
          } catch (e) {
            thrown = e;
            throw e;
          }
        }),
      );
      t.ok(err instanceof NotEnabled);
      t.equal(err, thrown, 'the very error the function threw');
      t.equal(err.message, 'Encryption at rest is enabling');
      t.same(seen, ['enabling'], 'one run');
      t.equal(txns.sent, 1, 'one check');
      t.equal(await etcdRevision(), before, "the check's Txn wrote nothing");
      t.equal(a.get('ear')!.value, 'enabling');
    },
  );

  t.test('no extra request: a function that returns, or throws before reading', async (t) => {
    const { a } = await nodes(t);
    const txns = countTxns(a);
    t.equal(await a.transaction((tx) => tx.get('ear')!.value), 'enabling');
    t.equal(txns.sent, 0, 'a read-only run: no request');
    await a.transaction((tx) => tx.put('ear', tx.get<string>('ear')!.value + '!'));
    t.equal(txns.sent, 1, 'a writing run: its commit only');
    const err = await refusal(() =>
      a.transaction(() => {
        throw new NotEnabled('refused before reading');
      }),
    );
    t.equal(err.message, 'refused before reading');
    t.equal(txns.sent, 1, 'nothing read, nothing to check');
  });

  t.test('a refusal still behind at the last attempt: StoreConflictError', async (t) => {
    const { a, b } = await nodes(t, { maxAttempts: 1 });
    holdView(a);
    await b.put('ear', 'enabled');
    const seen: unknown[] = [];
    const err = await refusal(() => a.transaction(disable(seen)));
    t.ok(err instanceof StoreConflictError, err.message);
    t.match(err.message, 'gave up after 1 attempts');
    t.same(seen, ['enabling'], 'one run, on the old value: its refusal is not given');
  });

  t.test('etcd unreachable for the check: the refusal stands', async (t) => {
    const port = Number(new URL(cluster.endpoints[0]).port);
    const proxy = await startTcpProxy(t, { host: '127.0.0.1', port });
    const { a } = await nodes(t, { requestTimeoutMs: 1000, maxDisconnectedMs: 60_000 }, [
      `http://127.0.0.1:${proxy.port}`,
    ]);
    const txns = countTxns(a);
    proxy.cut();
    const err = await refusal(() => a.transaction(disable([])));
    t.ok(err instanceof NotEnabled, `the function's error, not the store's: ${err.message}`);
    t.equal(txns.sent, 1, 'the check was tried');
    proxy.restore();
  });
})();
