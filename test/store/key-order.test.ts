// Keys sort by their UTF-8 bytes on every backend (SQLite's BINARY collation, etcd's key
// ranges). The view compares strings without encoding them, and keeps them in a sorted
// index updated one key at a time: both checked against Buffer.compare on random keys that
// mix ASCII, U+E000..U+FFFF and characters past U+FFFF, where UTF-16 order differs.
import t from 'tap';
import { compareKeys } from '../../src/store/key-order';
import { SortedKeys } from '../../src/store/etcd/sorted-keys';

const alphabet = ['a', 'b', '/', 'é', '\ue000', '\uffff', '\u{1f600}', '\u{10000}', '\u{10ffff}'];

function randomKey(rand: () => number): string {
  const length = 1 + Math.floor(rand() * 5);
  return Array.from({ length }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
}

/** A small seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

t.test('compareKeys orders as the UTF-8 bytes do', async (t) => {
  const rand = seeded(7);
  let mismatches = 0;
  for (let i = 0; i < 20_000; i++) {
    const a = randomKey(rand);
    const b = randomKey(rand);
    if (Math.sign(compareKeys(a, b)) !== Math.sign(byBytes(a, b))) mismatches++;
  }
  t.equal(mismatches, 0);
  t.ok(compareKeys('\uffff', '\u{1f600}') < 0, 'U+FFFF before U+1F600 (UTF-16 says after)');
  t.ok(compareKeys('ab', 'a') > 0 && compareKeys('a', 'a') === 0);
});

t.test('the sorted index lists a prefix as a sort of every key would', async (t) => {
  const rand = seeded(11);
  const index = new SortedKeys();
  const present = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const key = randomKey(rand);
    if (rand() < 0.3) {
      index.remove(key);
      present.delete(key);
    } else {
      index.insert(key);
      present.add(key);
    }
  }
  t.equal(index.size, present.size, 'no key twice, none lost');
  for (const prefix of ['', 'a', '/', '\uffff', '\u{1f600}', 'é/']) {
    const naive = [...present].filter((k) => k.startsWith(prefix)).sort(byBytes);
    t.same(index.under(prefix), naive, `under ${JSON.stringify(prefix)}`);
  }
  index.reset([...present].reverse());
  t.same(index.under(''), [...present].sort(byBytes), 'a reset sorts');
});
