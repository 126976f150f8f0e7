// Keys sent for ahead are taken by a round only while fresh: older ones are dropped, and
// their key material zeroed once the answers are in.
import t from 'tap';
import type { KeyAnswers } from '../../../src/cluster/boot-unlock/fetch-keys';
import { freshOrDropped, type Prefetched } from '../../../src/cluster/boot-unlock/prefetch-keys';

function sentAt(at: number, ak: Buffer): Prefetched {
  const answers: KeyAnswers = new Map([
    [1, { value: new Map([['uid-1', ak]]), failed: new Map(), servedBy: 1 }],
  ]);
  return { at, answers: Promise.resolve(answers), answered: true };
}

t.test('fresh keys are kept as they are', async (t) => {
  const ak = Buffer.alloc(32, 7);
  const keys = sentAt(performance.now(), ak);
  t.equal(freshOrDropped(keys), keys);
  await keys.answers;
  t.ok(
    ak.every((b) => b === 7),
    'not zeroed',
  );
});

t.test('keys sent for too long ago are dropped and zeroed', async (t) => {
  const ak = Buffer.alloc(32, 7);
  const keys = sentAt(performance.now() - 60_000, ak);
  t.equal(freshOrDropped(keys), undefined);
  await keys.answers;
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(
    ak.every((b) => b === 0),
    'zeroed',
  );
});

t.test('nothing sent for: nothing taken', async (t) => {
  t.equal(freshOrDropped(undefined), undefined);
});
