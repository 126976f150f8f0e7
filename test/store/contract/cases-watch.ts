// Contract: watches — each change once, in order, a store's own before its write resolves;
// another node's as its view takes them in; a failing or writing watcher harms nobody.
import type { StoreChange } from '../../../src/store';
import { client, fresh } from './backends';
import { collect, contents, type Case } from './helpers';

export const watchCases: Record<string, Case> = {
  'a watcher sees each committed change under its prefix once, in order, before the write resolves':
    {
      run: async (t, b) => {
        const { store } = await fresh(t, b);
        const seen = collect(t, store, 'ks/');
        const r1 = await store.put('ks/1', { a: 1 });
        t.equal(seen.changes.length, 1, 'told before the put resolved');
        await store.put('other', 1);
        await store.transaction((tx) => {
          tx.put('ks/2', 2);
          tx.delete('ks/1');
        });
        t.equal(seen.changes.length, 3, 'told before the transaction resolved');
        await store.delete('ks/absent');
        const r3 = store.revision();
        await store
          .transaction(() => {
            throw new Error('abort');
          })
          .catch(() => undefined);
        t.same(seen.changes, [
          { type: 'put', key: 'ks/1', value: { a: 1 }, revision: r1 },
          { type: 'put', key: 'ks/2', value: 2, revision: r3 },
          { type: 'delete', key: 'ks/1', revision: r3 },
        ]);
        seen.stop();
        await store.put('ks/9', 9);
        t.equal(seen.changes.length, 3, 'nothing after unwatch, nothing twice');
      },
    },

  'a watcher that throws harms neither the others nor its own later changes': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      let thrown = 0;
      const stop = store.watch('e/', () => {
        thrown++;
        throw new Error('a broken watcher');
      });
      t.teardown(stop);
      const good = collect(t, store, 'e/');
      await store.put('e/1', 1);
      await store.put('e/2', 2);
      t.equal(thrown, 2, 'the broken watcher saw both');
      t.same(
        good.changes.map((c) => c.type === 'put' && c.key),
        ['e/1', 'e/2'],
      );
      t.equal(store.get('e/2')!.value, 2, 'the commit stands');
    },
  },

  'a watcher that writes: every watcher still sees commit order': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const raised: Promise<number>[] = [];
      store.watch('drives/', (c) => {
        if (c.type === 'put') raised.push(store.put(`faults/${c.key}`, 'raised'));
      });
      const seen = collect(t, store, '');
      await store.transaction((tx) => {
        tx.put('drives/1', 1);
        tx.put('drives/2', 2);
      });
      await Promise.all(raised);
      t.same(
        seen.changes.slice(0, 2).map((c) => c.key),
        ['drives/1', 'drives/2'],
        'the commit first, whole',
      );
      t.same(
        seen.changes
          .slice(2)
          .map((c) => c.key)
          .sort(),
        ['faults/drives/1', 'faults/drives/2'],
        "then the watcher's own writes",
      );
      const revisions = seen.changes.map((c) => c.revision);
      t.same(
        revisions,
        [...revisions].sort((x, y) => x - y),
        'in revision order',
      );
      t.equal(store.list('faults/').length, 2);
    },
  },

  "another node's commits reach this node's view and watchers, in order, each once": {
    needs: 'shared',
    run: async (t, b) => {
      const { store, location } = await fresh(t, b);
      const other = await client(t, location);
      const seen = collect(t, store, 'n/');
      const told: StoreChange[] = [];
      for (let i = 0; i < 30; i++) {
        if (i % 7 === 6) {
          await other.transaction((tx) => {
            tx.put(`n/${i}`, i);
            tx.delete(`n/${i - 1}`);
          });
          const revision = other.revision();
          told.push({ type: 'put', key: `n/${i}`, value: i, revision });
          told.push({ type: 'delete', key: `n/${i - 1}`, revision });
        } else {
          const revision = await other.put(`n/${i}`, i);
          told.push({ type: 'put', key: `n/${i}`, value: i, revision });
        }
      }
      await seen.count(told.length);
      await new Promise((resolve) => setTimeout(resolve, 100));
      t.same(seen.changes, told, 'every change, once, in revision order');
      t.same(contents(store, 'n/'), contents(other, 'n/'), 'the two views agree');
      t.equal(store.revision(), other.revision());
    },
  },
};
