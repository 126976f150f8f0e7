// Contract: optimistic transactions — own writes, all or nothing, and conflicts: when
// what a transaction read changes before it commits, it runs again and sees the change
// (etcd), or nothing can change it meanwhile (SQLite, where it runs inside the write lock);
// either way the outcome is the serial one. A function that throws (a refusal) was run on
// a state no older than any commit completed before the transaction was called (etcd
// checks what it read is current before giving the error; SQLite reads the file itself).
import { StoreConflictError, type StoreTx } from '../../../src/store';
import { client, fresh, type Backend } from './backends';
import { race, refusal, until, type Case } from './helpers';

/** Every attempt a race takes: two where commits can conflict, one where they cannot. */
const raceAttempts = (b: Backend) => (b.racer ? 2 : 1);

export const txCases: Record<string, Case> = {
  'a transaction reads its own writes; one that throws commits nothing': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      await store.put('n', 1);
      await store.put('p/y', 'y');
      const before = store.revision();
      const err = await refusal(() =>
        store.transaction((tx) => {
          tx.put('n', 2);
          tx.put('m', 1);
          t.equal(tx.get('n')!.value, 2, 'its own write');
          throw new Error('abort');
        }),
      );
      t.equal(err.message, 'abort');
      t.same(store.get('n'), { key: 'n', value: 1, revision: before - 1 });
      t.equal(store.get('m'), undefined);
      t.equal(store.revision(), before, 'nothing committed');
      const listed = await store.transaction((tx) => {
        const n = tx.get<number>('n')!;
        tx.put('n', n.value + 1);
        tx.put('p/x', 'x');
        tx.delete('p/y');
        tx.delete('never-there');
        t.equal(tx.get('p/y'), undefined, 'its own delete');
        t.same(tx.get('p/x'), { key: 'p/x', value: 'x', revision: 0 }, 'uncommitted: revision 0');
        return tx.list('p/').map((e) => e.key);
      });
      t.same(listed, ['p/x']);
      t.equal(store.get('n')!.value, 2);
      t.same(
        store.list('p/').map((e) => e.key),
        ['p/x'],
      );
      t.equal(store.get('never-there'), undefined, 'deleting an absent key wrote nothing');
      t.equal(store.get('p/x')!.revision, store.get('n')!.revision, 'one revision');
    },
  },

  'conflicting transactions: one wins, the other runs again and sees its write': {
    run: async (t, b) => {
      const at = await fresh(t, b);
      const { store: other } = at;
      await other.put('acct', 100);
      const r = await race(t, b, at);
      const { attempts, result } = await r.run(
        (tx) => tx.get<number>('acct')!.value,
        () => other.transaction((tx) => tx.put('acct', tx.get<number>('acct')!.value + 50)),
      );
      t.equal(attempts, raceAttempts(b), 'the loser ran again (where commits can conflict)');
      t.equal(result, 150, "its last run saw the winner's write");
    },
  },

  'an absent key read, then created by another, is a conflict': {
    run: async (t, b) => {
      const at = await fresh(t, b);
      const { store: other } = at;
      const r = await race(t, b, at);
      const { attempts, result } = await r.run(
        (tx) => tx.get('lock') === undefined,
        () => other.put('lock', 'taken'),
      );
      t.equal(attempts, raceAttempts(b));
      t.equal(result, false, 'its last run saw the key');
    },
  },

  'a listed prefix conflicts on a key created, changed or deleted under it': {
    run: async (t, b) => {
      const at = await fresh(t, b);
      const { store: other } = at;
      await other.put('p/a', 1);
      await other.put('p/b', 1);
      const r = await race(t, b, at);
      const list = (tx: StoreTx) =>
        tx
          .list('p/')
          .map((e) => `${e.key}=${JSON.stringify(e.value)}`)
          .join(',');
      const interferences: [string, () => Promise<unknown>, string][] = [
        ['created', () => other.put('p/c', 1), 'p/a=1,p/b=1,p/c=1'],
        ['changed', () => other.put('p/a', 2), 'p/a=2,p/b=1,p/c=1'],
        ['deleted', () => other.delete('p/b'), 'p/a=2,p/c=1'],
      ];
      for (const [how, interfere, seen] of interferences) {
        const { attempts, result } = await r.run(list, interfere);
        t.equal(attempts, raceAttempts(b), `a key ${how} under the prefix`);
        t.equal(result, seen);
      }
      const { attempts } = await r.run(list, () => other.put('q/a', 1));
      t.equal(attempts, 1, 'a write elsewhere is no conflict');
      const again = await r.run(list, () => other.put('pX', 1));
      t.equal(again.attempts, 1, 'nor one to a key that merely starts alike');
    },
  },

  "a commit's changes reach a reader together: never half of one": {
    run: async (t, b) => {
      const { store, location } = await fresh(t, b);
      const writer = b.shared ? await client(t, location) : store;
      const torn: string[] = [];
      let seen = 0;
      store.watch('pair/', () => {
        seen++;
        const a = store.get<number>('pair/a')?.value;
        const c = store.get<number>('pair/b')?.value;
        if (a !== c) torn.push(`${a}/${c}`);
      });
      for (let i = 1; i <= 20; i++) {
        await writer.transaction((tx) => {
          tx.put('pair/a', i);
          tx.put('pair/b', i);
        });
      }
      if (b.shared) await until('the other store’s commits', () => seen >= 40);
      const inTx = await store.transaction((tx) => [
        tx.get('pair/a')?.value,
        tx.get('pair/b')?.value,
      ]);
      t.same(inTx, [20, 20], "a transaction's reads: one state");
      t.equal(seen, 40, 'each change once');
      t.same(torn, [], 'a watcher never found one key of a commit without the other');
    },
  },

  'three writers on one record: no update lost': {
    run: async (t, b) => {
      const { location } = await fresh(t, b);
      const writers = [
        await client(t, location),
        await client(t, location),
        await client(t, location),
      ];
      await writers[0].put('counter', 0);
      await until('every view holds the record', () =>
        writers.every((w) => w.get('counter') !== undefined),
      );
      const perWriter = 25;
      let runs = 0;
      await Promise.all(
        writers.map(async (w) => {
          for (let i = 0; i < perWriter; i++) {
            await w.transaction((tx) => {
              runs++;
              tx.put('counter', tx.get<number>('counter')!.value + 1);
            });
          }
        }),
      );
      const total = 3 * perWriter;
      await until('every view holds the last increment', () =>
        writers.every((w) => w.get('counter')!.value === total),
      );
      t.equal(writers[0].get('counter')!.value, total);
      t.ok(runs >= 3 * perWriter, `${runs - 3 * perWriter} runs again`);
    },
  },

  'a transaction that keeps meeting writers gives up with StoreConflictError': {
    needs: 'racer',
    run: async (t, b) => {
      const at = await fresh(t, b);
      const { store: other, location } = at;
      const racer = await b.racer!(t, location, { maxAttempts: 3 });
      await other.put('hot', 0);
      await until('the racer sees the record', () => racer.store.get('hot') !== undefined);
      let attempts = 0;
      const err = await refusal(() =>
        racer.store.transaction((tx) => {
          attempts++;
          const v = tx.get<number>('hot')!.value;
          racer.hold();
          void other.put('hot', v + 100).finally(racer.release);
          tx.put('hot', v + 1);
          tx.put('mine', attempts);
        }),
      );
      t.ok(err instanceof StoreConflictError, err.message);
      t.match(err.message, 'gave up after 3 attempts');
      t.equal(attempts, 3);
      t.equal(racer.store.get('mine'), undefined, 'no attempt committed');
      t.equal(other.get('hot')!.value, 300);
    },
  },

  'a refusal is decided on a state no older than the commits made before the call': {
    run: async (t, b) => {
      const { store, location } = await fresh(t, b);
      const writer = b.shared ? await client(t, location) : store;
      for (let i = 1; i <= 10; i++) {
        await writer.put('ear', i);
        const seen = await store.transaction((tx) => {
          const ear = tx.get<number>('ear')?.value;
          if (ear !== i) throw new Error(`refused on ${ear}, written ${i}`);
          return ear;
        });
        t.equal(seen, i, `commit ${i}: seen, not refused on an older one`);
      }
      const before = store.revision();
      const mine = new Error('refused on the current state');
      let runs = 0;
      const err = await refusal(() =>
        store.transaction((tx) => {
          runs++;
          tx.put('ear', tx.get<number>('ear')!.value + 1);
          throw mine;
        }),
      );
      t.equal(err, mine, "the function's own error");
      t.equal(runs, 1, 'one run');
      t.equal(store.revision(), before, 'nothing written');
      t.equal(store.get('ear')!.value, 10);
    },
  },

  'a read-only transaction commits nothing': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      await store.put('r', 1);
      const before = store.revision();
      t.equal(await store.transaction((tx) => tx.get<number>('r')!.value), 1);
      t.equal(store.revision(), before);
    },
  },

  'a transaction reading more keys than one etcd Txn compares commits, and conflicts': {
    run: async (t, b) => {
      const at = await fresh(t, b);
      const { store: other } = at;
      for (let i = 0; i < 200; i += 50) {
        await other.transaction((tx) => {
          for (let k = i; k < i + 50; k++) tx.put(`wide/${k}`, k);
        });
      }
      const r = await race(t, b, at);
      const sumAll = (tx: StoreTx) => {
        let sum = 0;
        for (let k = 0; k < 200; k++) sum += tx.get<number>(`wide/${k}`)!.value;
        return sum;
      };
      const { attempts, result } = await r.run(sumAll, () => other.put('wide/150', 1150));
      t.equal(attempts, raceAttempts(b), 'a change to one of 200 keys read is still caught');
      t.equal(result, 19900 + 1000);
      const quiet = await r.run(sumAll, () => other.put('elsewhere', 1));
      t.equal(quiet.attempts, 1);
    },
  },
};
