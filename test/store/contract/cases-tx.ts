// Contract: optimistic transactions — own writes, all or nothing, and conflicts: when
// what a transaction read changes before it commits, it runs again and sees the change.
import type { Test } from 'tap';
import { StoreConflictError, type AsyncStore } from '../../../src/store';
import { client, fresh, type Backend } from './backends';
import { gate, rejection } from './helpers';

/**
 * Run `fn` in a transaction on `store`; on its first attempt, after `read` ran, hold it
 * while `interfere` commits elsewhere. Resolves to the attempts made and the result.
 */
async function raced<R>(
  store: AsyncStore,
  read: (tx: Parameters<Parameters<AsyncStore['transaction']>[0]>[0]) => Promise<R>,
  interfere: () => Promise<unknown>,
): Promise<{ attempts: number; result: R }> {
  let attempts = 0;
  const hasRead = gate();
  const resume = gate();
  const running = store.transaction(async (tx) => {
    attempts++;
    const result = await read(tx);
    if (attempts === 1) {
      hasRead.open();
      await resume.wait;
    }
    tx.put('marker', attempts);
    return result;
  });
  await hasRead.wait;
  await interfere();
  resume.open();
  return { attempts: await running.then(() => attempts), result: await running };
}

export const txCases: Record<string, (t: Test, b: Backend) => Promise<void>> = {
  'a transaction reads its own writes; one that throws commits nothing': async (t, b) => {
    const { store } = await fresh(t, b);
    await store.put('n', 1);
    await store.put('p/y', 'y');
    const before = await store.revision();
    const err = await rejection(
      store.transaction(async (tx) => {
        tx.put('n', 2);
        tx.put('m', 1);
        t.equal((await tx.get('n'))!.value, 2, 'its own write');
        throw new Error('abort');
      }),
    );
    t.equal(err.message, 'abort');
    t.same(await store.get('n'), { key: 'n', value: 1, revision: before - 1 });
    t.equal(await store.get('m'), undefined);
    t.equal(await store.revision(), before, 'nothing committed');
    const listed = await store.transaction(async (tx) => {
      const n = (await tx.get<number>('n'))!;
      tx.put('n', n.value + 1);
      tx.put('p/x', 'x');
      tx.delete('p/y');
      tx.delete('never-there');
      t.equal(await tx.get('p/y'), undefined, 'its own delete');
      t.same(
        await tx.get('p/x'),
        { key: 'p/x', value: 'x', revision: 0 },
        'uncommitted: revision 0',
      );
      return (await tx.list('p/')).map((e) => e.key);
    });
    t.same(listed, ['p/x']);
    t.equal((await store.get('n'))!.value, 2);
    t.same(
      (await store.list('p/')).map((e) => e.key),
      ['p/x'],
    );
    t.equal(await store.get('never-there'), undefined, 'deleting an absent key wrote nothing');
    t.equal((await store.get('p/x'))!.revision, (await store.get('n'))!.revision, 'one revision');
  },

  'conflicting transactions: one wins, the other runs again and sees its write': async (t, b) => {
    const { store, location } = await fresh(t, b);
    const other = await client(t, location);
    await store.put('acct', 100);
    const { attempts, result } = await raced(
      store,
      async (tx) => (await tx.get<number>('acct'))!.value,
      () =>
        other.transaction(async (tx) => {
          tx.put('acct', (await tx.get<number>('acct'))!.value + 50);
        }),
    );
    t.equal(attempts, 2, 'the loser ran again');
    t.equal(result, 150, "its second attempt saw the winner's write");
  },

  'an absent key read, then created by another, is a conflict': async (t, b) => {
    const { store, location } = await fresh(t, b);
    const other = await client(t, location);
    const { attempts, result } = await raced(
      store,
      async (tx) => (await tx.get('lock')) === undefined,
      () => other.put('lock', 'taken'),
    );
    t.equal(attempts, 2);
    t.equal(result, false, 'the second attempt saw the key');
  },

  'a listed prefix conflicts on a key created, changed or deleted under it': async (t, b) => {
    const { store, location } = await fresh(t, b);
    const other = await client(t, location);
    await store.put('p/a', 1);
    await store.put('p/b', 1);
    const list = async (tx: Parameters<Parameters<AsyncStore['transaction']>[0]>[0]) =>
      (await tx.list('p/')).map((e) => `${e.key}=${JSON.stringify(e.value)}`).join(',');
    const interferences: [string, () => Promise<unknown>, string][] = [
      ['created', () => other.put('p/c', 1), 'p/a=1,p/b=1,p/c=1'],
      ['changed', () => other.put('p/a', 2), 'p/a=2,p/b=1,p/c=1'],
      ['deleted', () => other.delete('p/b'), 'p/a=2,p/c=1'],
    ];
    for (const [how, interfere, seen] of interferences) {
      const { attempts, result } = await raced(store, list, interfere);
      t.equal(attempts, 2, `a key ${how} under the prefix`);
      t.equal(result, seen);
    }
    const { attempts } = await raced(store, list, () => other.put('q/a', 1));
    t.equal(attempts, 1, 'a write elsewhere is no conflict');
    const again = await raced(store, list, () => other.put('pX', 1));
    t.equal(again.attempts, 1, 'nor one to a key that merely starts alike');
  },

  'reads are one snapshot: never half of another commit': async (t, b) => {
    const { store, location } = await fresh(t, b);
    const other = await client(t, location);
    await store.transaction((tx) => {
      tx.put('pair/a', 1);
      tx.put('pair/b', 1);
    });
    let first: number[] | undefined;
    const hold = gate();
    const hasRead = gate();
    const reading = store.transaction(async (tx) => {
      const a = (await tx.get<number>('pair/a'))!.value;
      if (!first) {
        hasRead.open();
        await hold.wait;
      }
      const seen = [a, (await tx.get<number>('pair/b'))!.value];
      first ??= seen;
      return seen;
    });
    await hasRead.wait;
    await other.transaction((tx) => {
      tx.put('pair/a', 3);
      tx.put('pair/b', 3);
    });
    hold.open();
    const seen = await reading;
    t.equal(seen[0], seen[1], `a and b from one state (${seen})`);
  },

  'three writers on one record: no update lost': async (t, b) => {
    const { location } = await fresh(t, b);
    const writers = [
      await client(t, location),
      await client(t, location),
      await client(t, location),
    ];
    await writers[0].put('counter', 0);
    const perWriter = 25;
    let runs = 0;
    await Promise.all(
      writers.map(async (w) => {
        for (let i = 0; i < perWriter; i++) {
          await w.transaction(async (tx) => {
            runs++;
            tx.put('counter', (await tx.get<number>('counter'))!.value + 1);
          });
        }
      }),
    );
    t.equal((await writers[1].get('counter'))!.value, 3 * perWriter);
    t.ok(runs >= 3 * perWriter, `${runs - 3 * perWriter} retries`);
  },

  'a transaction that keeps meeting writers gives up with StoreConflictError': async (t, b) => {
    const { location } = await fresh(t, b);
    const store = await client(t, location, { retry: { maxAttempts: 3, maxBackoffMs: 1 } });
    const other = await client(t, location);
    await store.put('hot', 0);
    let attempts = 0;
    const err = await rejection(
      store.transaction(async (tx) => {
        attempts++;
        const v = (await tx.get<number>('hot'))!.value;
        await other.put('hot', v + 100);
        tx.put('hot', v + 1);
        tx.put('mine', attempts);
      }),
    );
    t.ok(err instanceof StoreConflictError, err.message);
    t.equal(attempts, 3);
    t.equal(await store.get('mine'), undefined, 'no attempt committed');
    t.equal((await store.get('hot'))!.value, 300);
  },

  'a read-only transaction commits nothing': async (t, b) => {
    const { store } = await fresh(t, b);
    await store.put('r', 1);
    const before = await store.revision();
    t.equal(await store.transaction(async (tx) => (await tx.get<number>('r'))!.value), 1);
    t.equal(await store.revision(), before);
  },

  'a transaction reading more keys than one etcd Txn compares commits, and conflicts': async (
    t,
    b,
  ) => {
    const { store, location } = await fresh(t, b);
    const other = await client(t, location);
    for (let i = 0; i < 200; i += 50) {
      await store.transaction((tx) => {
        for (let k = i; k < i + 50; k++) tx.put(`wide/${k}`, k);
      });
    }
    const sumAll = async (tx: Parameters<Parameters<AsyncStore['transaction']>[0]>[0]) => {
      let sum = 0;
      for (let k = 0; k < 200; k++) sum += (await tx.get<number>(`wide/${k}`))!.value;
      return sum;
    };
    const { attempts, result } = await raced(store, sumAll, () => other.put('wide/150', 1150));
    t.equal(attempts, 2, 'a change to one of 200 keys read is still caught');
    t.equal(result, 19900 + 1000);
    const quiet = await raced(store, sumAll, () => other.put('elsewhere', 1));
    t.equal(quiet.attempts, 1);
  },
};
