// The harness itself: outcomes are classified as promised, runs replay from their seed,
// and mutators never change their input.
import t from 'tap';
import {
  MUTATORS,
  nestingBomb,
  splice,
  ttlvHeaderOffsets,
} from '../../scripts/reliability/fuzz/mutators';
import { Rng } from '../../scripts/reliability/fuzz/rng';
import { runFuzz, runFuzzSync, type FuzzTarget } from '../../scripts/reliability/fuzz/runner';

class OwnError extends Error {}

/** Input i: accepted, rejected via own error, crash via TypeError, by i mod 3. */
const mixed: FuzzTarget<number> = {
  generate: (_rng, i) => i,
  run(i) {
    if (i % 3 === 1) throw new OwnError('refused');
    if (i % 3 === 2) throw new TypeError('not ours');
    return 'accepted';
  },
  isOwnError: (err) => err instanceof OwnError,
  describe: (i) => String(i),
};

t.test('sync runs count each outcome class', async (t) => {
  const r = runFuzzSync(mixed, { iterations: 30, seed: 1, keepFailures: 2 });
  t.same(r.counts, { accepted: 10, rejected: 10, crash: 10, hang: 0 });
  t.same(
    r.failures.map((f) => [f.iteration, f.outcome, f.error]),
    [
      [2, 'crash', 'TypeError: not ours'],
      [5, 'crash', 'TypeError: not ours'],
    ],
  );
  t.ok(r.peakRssBytes > 0 && r.peakHeapUsedBytes > 0, 'memory was sampled');
});

t.test('async runs report a stuck input as a hang and go on', async (t) => {
  const stuck: FuzzTarget<number> = {
    ...mixed,
    run: (i) => (i === 1 ? new Promise<never>(() => undefined) : Promise.resolve('accepted')),
  };
  const r = await runFuzz(stuck, { iterations: 3, seed: 1, hangMs: 50 });
  t.same(r.counts, { accepted: 2, rejected: 0, crash: 0, hang: 1 });
  t.equal(r.failures[0]?.iteration, 1);
});

t.test('mutators: deterministic per seed, inputs left intact', async (t) => {
  const seed = nestingBomb(3);
  const copy = Buffer.from(seed);
  const run = (s: number): string[] => {
    const rng = new Rng(s);
    return MUTATORS.map((m) => m(seed, rng).toString('hex'));
  };
  t.same(run(7), run(7), 'the same seed gives the same mutants');
  t.not(run(7).join(), run(8).join(), 'another seed gives others');
  t.same(seed, copy, 'the seed is unchanged');
  t.same(ttlvHeaderOffsets(seed), [0, 8, 16, 24], 'headers found at every level');
  const tailOf = Buffer.alloc(40, 0xee);
  const spliced = splice(seed, tailOf, new Rng(1));
  const cut = spliced.indexOf(0xee) < 0 ? spliced.length : spliced.indexOf(0xee);
  t.same(spliced.subarray(0, cut), seed.subarray(0, cut), 'a splice starts with a head of one');
  t.ok(
    spliced.subarray(cut).every((b) => b === 0xee),
    'and ends with a tail of the other',
  );
});
