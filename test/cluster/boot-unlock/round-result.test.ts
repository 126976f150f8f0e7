// A round's tally: a drive left locked for a reason a later round may overcome counts as
// waiting (and asks for a retry), one only an operator can fix as failed; the rest of the
// drives looked at count as unlocked. The STATUS= line says so.
import t from 'tap';
import {
  emptyRoundResult,
  progressLine,
  roundTally,
} from '../../../src/cluster/boot-unlock/round-result';

t.test('waiting and failed drives are counted apart; a waiting one asks for a retry', async (t) => {
  const tally = roundTally();
  tally.unlocked(1);
  tally.fail(2, { reason: 'refused', retry: false });
  t.notOk(tally.result.retry, 'a drive only an operator can fix asks for no retry');
  tally.fail(3, { reason: 'key server down', retry: true });
  tally.fail(4, { reason: 'key server down', retry: true });
  const result = tally.finish(5);
  t.ok(result.retry, 'a waiting drive asks for a retry');
  t.same(result.unlocked, [1]);
  t.same(
    [...result.failed],
    [
      [2, 'refused'],
      [3, 'key server down'],
      [4, 'key server down'],
    ],
  );
  t.same(result.progress, { total: 5, unlocked: 2, waiting: 2, failed: 1 });
  t.equal(progressLine(result.progress), 'unlocked 2/5 drives; 2 waiting for key server; 1 failed');
});

t.test('a drive failed twice in a round counts once', async (t) => {
  const tally = roundTally();
  tally.fail(7, { reason: 'status: I/O error', retry: true });
  tally.fail(7, { reason: 'status: I/O error', retry: true });
  t.same(tally.finish(1).progress, { total: 1, unlocked: 0, waiting: 1, failed: 0 });
});

t.test('progress lines', async (t) => {
  t.equal(progressLine(emptyRoundResult().progress), 'no drives to unlock');
  t.equal(progressLine({ total: 3, unlocked: 3, waiting: 0, failed: 0 }), 'unlocked 3/3 drives');
});
