// etcd-specific behaviour on one member: what the design relies on in etcd 3.4 itself,
// tombstones and their removal, the store marker (a wrong prefix is refused), a value
// someone else wrote that is not JSON, and clear errors naming the endpoint when etcd is
// unreachable or stops (reads go on from the last view).
import t from 'tap';
import { Etcd3 } from 'etcd3';
import { StoreError, StoreUnavailableError } from '../../../src/store';
import { openEtcdStore } from '../../../src/store/etcd';
import { freePorts, startEtcd } from '../../../scripts/etcd/members';
import { collect, refusal, until } from './helpers';

const B = (s: string) => Buffer.from(s);
let n = 0;
const prefix = () => `/ekmd-errors/${process.pid}-${++n}/`;

void (async () => {
  const cluster = await startEtcd(t);
  const endpoints = cluster.endpoints;
  const raw = new Etcd3({ hosts: endpoints });
  t.teardown(() => raw.close());

  t.test('etcd 3.4 compares: a missing key is MOD 0, an empty range passes', async (t) => {
    const txn = async (compare: object) =>
      (await raw.kv.txn({ compare: [compare], success: [], failure: [] })).succeeded;
    const missing = B(`${prefix()}missing`);
    t.equal(await txn({ key: missing, target: 'Mod', result: 'Less', mod_revision: 5 }), true);
    t.equal(await txn({ key: missing, target: 'Mod', result: 'Equal', mod_revision: 0 }), true);
    t.equal(
      await txn({ key: missing, target: 'Value', result: 'NotEqual', value: B('') }),
      false,
      'a value compare on a missing key always fails',
    );
    const empty = B(prefix());
    const end = B(empty.toString().slice(0, -1) + '0');
    t.equal(
      await txn({ key: empty, range_end: end, target: 'Mod', result: 'Less', mod_revision: 1 }),
      true,
    );
    const err = await refusal(() =>
      raw.kv.txn({
        compare: [],
        success: Array.from({ length: 129 }, (_, i) => ({
          request_put: { key: B(`${prefix()}${i}`), value: B('1') },
        })),
        failure: [],
      }),
    );
    t.match(err.message, 'too many operations in txn request', 'the default --max-txn-ops is 128');
  });

  t.test('a delete leaves a tombstone; maintenance removes old ones for good', async (t) => {
    const config = { endpoints, prefix: prefix() };
    const store = await openEtcdStore(config, { create: true });
    t.teardown(() => store.close());
    await store.put('d/1', 1);
    await store.put('d/2', 2);
    await store.delete('d/1');
    const tombstone = await raw.kv.range({ key: B(`${config.prefix}kv/d/1`) });
    t.equal(tombstone.kvs.length, 1);
    t.equal(tombstone.kvs[0].value.length, 0, 'an empty value marks it deleted');
    t.same(
      store.list('d/').map((e) => e.key),
      ['d/2'],
    );
    const kept = await store.maintain();
    t.same(kept, { compactedRevision: 0, tombstonesRemoved: 0 }, 'nothing is an hour old yet');
    const report = await store.maintain({ retainMs: 0 });
    t.ok(report.tombstonesRemoved >= 1);
    t.equal((await raw.kv.range({ key: B(`${config.prefix}kv/d/1`) })).kvs.length, 0);
    t.equal(store.get('d/2')!.value, 2, 'live keys stay');
    const again = await store.put('d/1', 'back');
    t.ok(again > report.compactedRevision, 'a key re-created after removal still moves forward');
  });

  t.test('a wrong prefix is refused, naming the endpoint and the prefix', async (t) => {
    const empty = prefix();
    let err = await refusal(() => openEtcdStore({ endpoints, prefix: empty }));
    t.ok(err instanceof StoreError);
    t.match(err.message, `etcd at ${endpoints[0]} (prefix ${empty})`);
    t.match(err.message, 'no ekmd store under this prefix');
    const foreign = prefix();
    await raw.put(`${foreign}something/else`).value('x');
    err = await refusal(() => openEtcdStore({ endpoints, prefix: foreign }, { create: true }));
    t.match(err.message, 'keys exist under this prefix but no ekmd store marker');
    t.equal((await raw.getAll().prefix(foreign).keys()).length, 1, 'nothing written there');
    const newer = prefix();
    await raw.put(`${newer}store`).value(JSON.stringify({ format: 'ekmd-store', version: 2 }));
    err = await refusal(() => openEtcdStore({ endpoints, prefix: newer }));
    t.match(err.message, 'format version 2, newer than this ekmd supports (1)');
    const other = prefix();
    await raw.put(`${other}store`).value('{"format":"something"}');
    err = await refusal(() => openEtcdStore({ endpoints, prefix: other }));
    t.match(err.message, 'is not an ekmd store marker');
    const made = prefix();
    const created = await openEtcdStore({ endpoints, prefix: made }, { create: true });
    await created.close();
    const reopened = await openEtcdStore({ endpoints, prefix: made });
    await reopened.close();
    t.pass('a created store opens without create');
  });

  t.test(
    'a value that is not JSON: its reads fail without quoting it; watchers skip it',
    async (t) => {
      const config = { endpoints, prefix: prefix() };
      const store = await openEtcdStore(config, { create: true });
      t.teardown(() => store.close());
      const seen = collect(t, store, '');
      await raw.put(`${config.prefix}kv/bad`).value('secret-not-json');
      await store.put('good', 1);
      t.same(
        seen.changes.map((c) => c.key),
        ['good'],
        'the unreadable change was not told',
      );
      for (const read of [() => store.get('bad'), () => store.list('')]) {
        const err = await refusal(read);
        t.ok(err instanceof StoreError);
        t.match(err.message, 'store key "bad" does not hold JSON');
        t.notMatch(err.message, 'secret');
      }
      t.equal(store.get('good')!.value, 1, 'other keys read as ever');
      const reopened = await openEtcdStore(config);
      t.teardown(() => reopened.close());
      t.equal(reopened.list('good').length, 1, 'a view loads around it');
    },
  );

  t.test('unreachable etcd: a clear error naming the endpoint, quickly', async (t) => {
    const [port] = await freePorts(1);
    const nowhere = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const err = await refusal(() =>
      openEtcdStore({ endpoints: [nowhere], prefix: prefix() }, { requestTimeoutMs: 2000 }),
    );
    t.ok(err instanceof StoreUnavailableError, err.message);
    t.match(err.message, `etcd at ${nowhere}`);
    t.match(err.message, 'unreachable');
    t.ok(Date.now() - started < 5000, `in ${Date.now() - started} ms`);
  });

  t.test(
    'etcd stops while open: writes fail clearly in bounded time, reads go on; then back',
    async (t) => {
      const own = await startEtcd(t);
      const timeout = 2000;
      const store = await openEtcdStore(
        { endpoints: own.endpoints, prefix: prefix() },
        { create: true, requestTimeoutMs: timeout },
      );
      t.teardown(() => store.close());
      await store.put('k', 1);
      t.same(store.viewHealth().connected, true);
      await own.kill(0);
      const writes: [string, () => Promise<unknown>][] = [
        [
          'transaction',
          () => store.transaction((tx) => tx.put('k', tx.get<number>('k')!.value + 1)),
        ],
        ['put', () => store.put('k', 3)],
        ['delete', () => store.delete('k')],
        ['lease', () => store.grantLease(5)],
      ];
      for (const [what, call] of writes) {
        const started = Date.now();
        const err = await refusal(call);
        const took = Date.now() - started;
        t.ok(err instanceof StoreUnavailableError, `${what}: ${err.message}`);
        t.match(err.message, `etcd at ${own.endpoints[0]}`, `${what}: names the endpoint`);
        t.ok(took <= timeout + 1000, `${what}: failed in ${took} ms`);
        t.equal(store.get('k')!.value, 1, `${what}: reads serve the last view`);
      }
      const health = store.viewHealth();
      t.equal(health.connected, false);
      t.ok(health.disconnectedMs > 0);
      t.ok(health.lastError, `last error: ${health.lastError}`);
      await own.restart(0);
      await until('the view is back', () => store.viewHealth().connected, 20_000);
      await store.put('after', 1);
      t.equal(store.get('k')!.value, 1, 'the refused writes left nothing behind');
      t.equal(store.get('after')!.value, 1, 'writes work again');
      t.equal(store.viewHealth().commitFailing, false);
    },
  );
})();
