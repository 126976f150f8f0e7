import t from 'tap';
import { defaultInFlightCap, InFlightLimit, threadPoolSize } from '../../src/util/in-flight-limit';

t.test('never more than max running; queued ones run in order', async (t) => {
  const limit = new InFlightLimit(2);
  const releases: Array<() => void> = [];
  const started: number[] = [];
  let peak = 0;
  const jobs = [0, 1, 2, 3, 4].map((i) =>
    limit.run(async () => {
      started.push(i);
      peak = Math.max(peak, limit.inFlight);
      await new Promise<void>((r) => releases.push(r));
      return i;
    }),
  );
  await new Promise((r) => setImmediate(r));
  t.same(started, [0, 1], 'two started');
  t.equal(limit.queued, 3);
  while (releases.length) {
    releases.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  t.same(await Promise.all(jobs), [0, 1, 2, 3, 4]);
  t.same(started, [0, 1, 2, 3, 4], 'FIFO');
  t.equal(peak, 2, 'peak in flight');
  t.equal(limit.inFlight, 0);
});

t.test('a failing job frees its slot', async (t) => {
  const limit = new InFlightLimit(1);
  await t.rejects(
    limit.run(async () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  t.equal(await limit.run(async () => 7), 7);
  t.equal(limit.inFlight, 0);
});

t.test('pool size and default cap', async (t) => {
  t.equal(threadPoolSize({}), 4);
  t.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '16' }), 16);
  t.equal(threadPoolSize({ UV_THREADPOOL_SIZE: 'junk' }), 4);
  t.equal(defaultInFlightCap(4), 2);
  t.equal(defaultInFlightCap(1), 1);
  t.equal(defaultInFlightCap(16), 8);
  t.throws(() => new InFlightLimit(0), RangeError);
});
