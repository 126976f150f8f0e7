// Contract: watches — each change once, in order; a watch from a revision; list-then-
// watch; a resync where the history was compacted; a failing watcher harms nobody.
import type { Test } from 'tap';
import { fresh, type Backend } from './backends';
import { collect, shapes, until } from './helpers';

export const watchCases: Record<string, (t: Test, b: Backend) => Promise<void>> = {
  'a watcher sees each committed change under its prefix once, in order': async (t, b) => {
    const { store } = await fresh(t, b);
    const seen = await collect(t, store, 'ks/');
    const r1 = await store.put('ks/1', { a: 1 });
    await store.put('other', 1);
    await store.transaction((tx) => {
      tx.put('ks/2', 2);
      tx.delete('ks/1');
    });
    await store.delete('ks/absent');
    const r3 = await store.revision();
    await store
      .transaction(() => {
        throw new Error('abort');
      })
      .catch(() => undefined);
    await seen.count(3);
    t.same(seen.changes, [
      { type: 'put', key: 'ks/1', value: { a: 1 }, revision: r1 },
      { type: 'put', key: 'ks/2', value: 2, revision: r3 },
      { type: 'delete', key: 'ks/1', revision: r3 },
    ]);
    // A second watcher on the prefix tells when a later change has been delivered.
    const later = await collect(t, store, 'ks/');
    await seen.stop();
    await store.put('ks/9', 9);
    await later.count(1);
    t.equal(seen.changes.length, 3, 'nothing after unwatch, nothing twice');
  },

  'a watch from a revision replays every change since, then follows': async (t, b) => {
    const { store } = await fresh(t, b);
    const r1 = await store.put('x/1', 1);
    await store.put('x/2', 2);
    await store.put('y/1', 1);
    await store.delete('x/1');
    const seen = await collect(t, store, 'x/', { fromRevision: r1 });
    await store.put('x/3', 3);
    await seen.count(4);
    t.same(shapes(seen.changes), [
      { type: 'put', key: 'x/1', value: 1 },
      { type: 'put', key: 'x/2', value: 2 },
      { type: 'delete', key: 'x/1' },
      { type: 'put', key: 'x/3', value: 3 },
    ]);
    const revisions = seen.changes.map((c) => c.revision);
    t.same(
      revisions,
      [...revisions].sort((p, q) => p - q),
      'in revision order',
    );
  },

  'initialResync: the entries now, then the changes after them': async (t, b) => {
    const { store } = await fresh(t, b);
    await store.put('y/1', 1);
    await store.put('y/2', 2);
    const at = await store.revision();
    const seen = await collect(t, store, 'y/', { initialResync: true });
    const r3 = await store.put('y/3', 3);
    await seen.count(2);
    t.same(seen.changes[0], {
      type: 'resync',
      revision: at,
      entries: [
        { key: 'y/1', value: 1, revision: at - 1 },
        { key: 'y/2', value: 2, revision: at },
      ],
    });
    t.same(seen.changes[1], { type: 'put', key: 'y/3', value: 3, revision: r3 });
  },

  'after compaction, a watch from before it starts with a resync': async (t, b) => {
    const { store } = await fresh(t, b);
    const r1 = await store.put('z/1', 1);
    await store.put('z/2', 2);
    await store.delete('z/1');
    const report = await store.maintain({ retainMs: 0 });
    t.ok(report.compactedRevision > r1, `compacted at ${report.compactedRevision}`);
    const seen = await collect(t, store, 'z/', { fromRevision: r1 });
    await seen.count(1); // the resync comes first
    const r4 = await store.put('z/3', 3);
    await seen.count(2);
    const [resync, put] = seen.changes;
    t.equal(resync.type, 'resync');
    t.same(resync.type === 'resync' && resync.entries.map((e) => [e.key, e.value]), [['z/2', 2]]);
    t.same(put, { type: 'put', key: 'z/3', value: 3, revision: r4 });
    t.equal(seen.changes.length, 2);
    const current = await collect(t, store, 'z/', { fromRevision: r4 });
    await current.count(1);
    t.same(
      shapes(current.changes),
      [{ type: 'put', key: 'z/3', value: 3 }],
      'no resync within history',
    );
  },

  'a watcher that throws harms neither the others nor its own later changes': async (t, b) => {
    const { store } = await fresh(t, b);
    let thrown = 0;
    const stop = await store.watch('e/', () => {
      thrown++;
      throw new Error('a broken watcher');
    });
    t.teardown(() => stop());
    const good = await collect(t, store, 'e/');
    await store.put('e/1', 1);
    await store.put('e/2', 2);
    await good.count(2);
    await until('the broken watcher saw both', () => thrown === 2);
    t.same(
      good.changes.map((c) => c.type === 'put' && c.key),
      ['e/1', 'e/2'],
    );
    t.equal((await store.get('e/2'))!.value, 2, 'the commit stands');
  },
};
