// Contract: a store's own writes — read at once when they resolve, and refused when made
// through the store while a transaction's function runs (they would not be part of it).
import { StoreError } from '../../../src/store';
import { fresh } from './backends';
import { refusal, type Case } from './helpers';

const NESTED = 'a store write inside a transaction: write through its tx instead';

export const ownWriteCases: Record<string, Case> = {
  'once a write resolves, this store reads it at once': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const checks: [string, () => Promise<unknown>, () => boolean][] = [
        ['put', () => store.put('o/1', 1), () => store.get('o/1')?.value === 1],
        ['put again', () => store.put('o/1', 2), () => store.list('o/')[0]?.value === 2],
        [
          'compare-and-set',
          () => store.compareAndSet('o/1', store.get('o/1')!.revision, 3),
          () => store.get('o/1')?.value === 3,
        ],
        [
          'transaction',
          () => store.transaction((tx) => tx.put('o/2', tx.get<number>('o/1')!.value + 1)),
          () => store.get('o/2')?.value === 4,
        ],
        ['delete', () => store.delete('o/1'), () => store.get('o/1') === undefined],
      ];
      for (const [what, write, visible] of checks) {
        await write();
        t.ok(visible(), `${what}: seen as soon as it resolved`);
        const revision = store.revision();
        t.ok(
          store.list('o/').every((e) => e.revision <= revision),
          `${what}: the store's revision covers what it holds`,
        );
      }
    },
  },

  "a write made while a transaction's function runs is refused; the transaction stands": {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      await store.put('n', 1);
      const nested: Promise<Error>[] = [];
      // Each refusal is taken at once: left unhandled while the commit goes out, it would
      // end the process.
      const refused = (p: Promise<unknown>) => nested.push(refusal(() => p));
      await store.transaction((tx) => {
        const n = tx.get<number>('n')!.value;
        refused(store.put('inner', 1));
        refused(store.delete('n'));
        refused(store.compareAndSet('inner', 0, 1));
        refused(store.transaction((inner) => inner.put('inner', 2)));
        t.equal(store.get('n')!.value, 1, 'reads outside the tx are allowed: the view');
        tx.put('n', n + 1);
      });
      for (const err of await Promise.all(nested)) {
        t.ok(err instanceof StoreError);
        t.equal(err.message, NESTED);
      }
      t.equal(store.get('n')!.value, 2, 'the transaction committed its own write');
      t.equal(store.get('inner'), undefined, 'none of the nested writes landed');
    },
  },
};
