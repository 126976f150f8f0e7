// Contract: single operations — revisions, compare-and-set, lists, refused input, limits,
// a closed store. Every backend gives the same answers and the
// same error messages.
import { MAX_TX_BYTES, MAX_TX_WRITES, MAX_VALUE_BYTES, StoreError } from '../../../src/store';
import { fresh } from './backends';
import { refusal, type Case } from './helpers';

export const kvCases: Record<string, Case> = {
  'revisions are global, and per key they only grow (a delete included)': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const r0 = store.revision();
      const r1 = await store.put('a', 1);
      const r2 = await store.put('b', 2);
      const r3 = await store.put('a', 3);
      t.ok(r0 < r1 && r1 < r2 && r2 < r3, 'every write takes a later revision');
      t.same(store.get('a'), { key: 'a', value: 3, revision: r3 });
      t.equal(store.get('b')!.revision, r2, "a key's revision is its last change");
      t.equal(store.revision(), r3);
      t.equal(await store.delete('a'), true);
      const r4 = store.revision();
      t.ok(r4 > r3, 'a delete is a change');
      t.equal(await store.delete('a'), false);
      t.equal(store.revision(), r4, 'deleting an absent key changes nothing');
      t.equal(store.get('a'), undefined);
      t.ok((await store.put('a', 5)) > r4, 'a re-created key continues past its delete');
    },
  },

  'values come back as fresh copies': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const value = { list: [1, 2] };
      await store.put('v', value);
      value.list.push(3);
      const got = store.get<{ list: number[] }>('v')!;
      t.same(got.value, { list: [1, 2] });
      got.value.list.push(9);
      t.same(store.get('v')!.value, { list: [1, 2] });
      store.list<{ list: number[] }>('v')[0].value.list.push(7);
      t.same(store.get('v')!.value, { list: [1, 2] }, 'from a list too');
    },
  },

  'compare-and-set writes only on the expected revision (0: absent)': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      t.equal(await store.compareAndSet('c', 1, 'x'), false, 'an absent key is revision 0');
      t.equal(store.get('c'), undefined);
      t.equal(await store.compareAndSet('c', 0, 'first'), true);
      t.equal(await store.compareAndSet('c', 0, 'second'), false);
      const first = store.get('c')!;
      t.equal(first.value, 'first');
      t.equal(await store.compareAndSet('c', first.revision, 'second'), true);
      t.equal(await store.compareAndSet('c', first.revision, 'stale'), false);
      const live = store.get('c')!;
      t.equal(live.value, 'second');
      const err = await refusal(() => store.compareAndSet('c', -1, 'x'));
      t.equal(err.message, 'expected revision must be a non-negative integer');
      t.ok(err instanceof StoreError);
      await store.delete('c');
      const tombstone = store.revision();
      t.equal(await store.compareAndSet('c', live.revision, 'stale'), false, 'deleted: absent');
      t.equal(
        await store.compareAndSet('c', tombstone, 'x'),
        false,
        "a delete's revision is not live",
      );
      t.equal(await store.compareAndSet('c', 0, 'again'), true, 'absent after a delete: 0 creates');
      const again = store.get('c')!;
      t.ok(again.revision > tombstone);
      t.equal(await store.compareAndSet('c', live.revision, 'aba'), false, 'no ABA');
      t.equal(store.get('c')!.value, 'again');
    },
  },

  'list by prefix: key order (UTF-8 bytes), wildcards literal, deleted keys hidden': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const keys = [
        'ks/2',
        'ks/1',
        'ksX',
        'kp/1',
        'a*b/1',
        'aXb/1',
        'u/\uffff',
        'u/\u{1f600}',
        'u/é',
        'ks/3',
      ];
      for (const k of keys) await store.put(k, k);
      await store.delete('ks/3');
      t.same(
        store.list('ks/').map((e) => [e.key, e.value]),
        [
          ['ks/1', 'ks/1'],
          ['ks/2', 'ks/2'],
        ],
      );
      t.same(
        store.list('a*b/').map((e) => e.key),
        ['a*b/1'],
      );
      t.same(store.list('a?b/'), []);
      t.same(
        store.list('u/').map((e) => e.key),
        ['u/é', 'u/\uffff', 'u/\u{1f600}'],
        'U+FFFF before U+1F600, as their UTF-8 bytes sort',
      );
      t.equal(store.list('').length, keys.length - 1);
      t.same(store.list('nothing/'), []);
      const total = 2100; // more than two pages of etcd keys
      for (let i = 0; i < total; i += 100) {
        await store.transaction((tx) => {
          for (let k = i; k < i + 100; k++) tx.put(`many/${String(k).padStart(4, '0')}`, k);
        });
      }
      await store.delete('many/1000');
      const many = store.list<number>('many/');
      t.same(
        many.map((e) => e.value),
        Array.from({ length: total }, (_, i) => i).filter((i) => i !== 1000),
        'a long list is whole, in order',
      );
    },
  },

  'bad keys and values are refused with the same errors, and change nothing': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const before = store.revision();
      const cases: [() => unknown, string][] = [
        [() => store.put('', 1), 'store key must be a non-empty string'],
        [() => store.put('a\u0000b', 1), 'store key "a\\u0000b" contains a control character'],
        [() => store.put('k'.repeat(1025), 1), 'store key longer than 1024 characters'],
        [() => store.put('a\ud800b', 1), 'store key "a\\ud800b" is not valid Unicode'],
        [() => store.put('k', { n: NaN }), 'value for store key "k": not a finite number'],
        [
          () => store.put('k', { d: new Date() } as never),
          'value for store key "k": non-plain object is not JSON',
        ],
        [
          () => store.put('k', [undefined] as never),
          'value for store key "k": undefined is not JSON',
        ],
        [() => store.get(42 as never), 'store key must be a non-empty string'],
        [() => store.list(7 as never), 'store prefix must be a string'],
        [() => store.delete('\u007f'), 'store key "\u007f" contains a control character'],
        [
          () => store.compareAndSet('k', 0, (() => 1) as never),
          'value for store key "k": function is not JSON',
        ],
        [
          () =>
            store.transaction((tx) => {
              tx.put('k', 1);
              tx.put('', 2);
            }),
          'store key must be a non-empty string',
        ],
        [
          () =>
            store.transaction(async (tx) => {
              tx.put('k', 1);
            }),
          'a store transaction must be synchronous (it returned a promise)',
        ],
        [() => store.watch(3 as never, () => undefined), 'store prefix must be a string'],
      ];
      for (const [call, message] of cases) {
        const err = await refusal(call);
        t.equal(err.message, message);
        t.ok(err instanceof StoreError, `${message}: a StoreError`);
      }
      t.equal(store.get('k'), undefined);
      t.equal(store.revision(), before, 'nothing was written');
    },
  },

  'values over the size cap are refused naming the key, never the value': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const over = 'v'.repeat(MAX_VALUE_BYTES - 1); // +2 quotes: one byte over
      const err = await refusal(() => store.put('big', over));
      t.equal(
        err.message,
        `value for store key "big" is ${MAX_VALUE_BYTES + 1} bytes; the limit is ${MAX_VALUE_BYTES}`,
      );
      t.notOk(err.message.includes('vvv'));
      t.equal(store.get('big'), undefined);
      const fits = 'v'.repeat(MAX_VALUE_BYTES - 2);
      await store.put('big', fits);
      t.equal(store.get<string>('big')!.value.length, fits.length, 'exactly at the cap fits');
    },
  },

  'a transaction writes at most 128 keys and its byte budget': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      const tooMany = await refusal(() =>
        store.transaction((tx) => {
          for (let i = 0; i <= MAX_TX_WRITES; i++) tx.put(`w/${i}`, i);
        }),
      );
      t.equal(tooMany.message, `a store transaction writes at most ${MAX_TX_WRITES} keys`);
      const half = 'h'.repeat(700 * 1024);
      const tooBig = await refusal(() =>
        store.transaction((tx) => {
          tx.put('h/1', half);
          tx.put('h/2', half);
        }),
      );
      t.match(tooBig.message, `a store transaction writes at most ${MAX_TX_BYTES} bytes`);
      t.match(tooBig.message, 'store key "h/2"');
      t.same(store.list(''), [], 'neither committed anything');
      await store.transaction((tx) => {
        for (let i = 0; i < MAX_TX_WRITES; i++) tx.put(`w/${i}`, i);
      });
      t.equal(store.list('w/').length, MAX_TX_WRITES, '128 writes commit together');
    },
  },

  'a closed store refuses every call': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      await store.put('x', 1);
      await store.close();
      await store.close();
      const calls: (() => unknown)[] = [
        () => store.get('x'),
        () => store.list(''),
        () => store.put('y', 1),
        () => store.delete('x'),
        () => store.compareAndSet('x', 0, 1),
        () => store.transaction(() => 1),
        () => store.watch('', () => undefined),
        () => store.revision(),
        () => store.grantLease(5),
        () => store.maintain(),
      ];
      for (const call of calls) {
        const err = await refusal(call);
        t.ok(err instanceof StoreError, err.message);
        t.match(err.message, /closed/);
      }
    },
  },
};
