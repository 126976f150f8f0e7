// Capped, jittered exponential backoff: each wait lies in the upper half of a delay that
// doubles from the first to the cap; reset starts over; a cap below the first delay wins.
import t from 'tap';
import { Backoff, FIRST_RETRY_MS } from '../../src/cluster/backoff';

t.test('doubles within jitter up to the cap, and resets', async (t) => {
  const b = new Backoff(3000);
  const delays = [FIRST_RETRY_MS, 1000, 2000, 3000, 3000, 3000];
  for (const d of delays) {
    const wait = b.next();
    t.ok(wait >= d / 2 && wait <= d, `${wait.toFixed(0)} ms within [${d / 2}, ${d}]`);
  }
  b.reset();
  const wait = b.next();
  t.ok(wait >= FIRST_RETRY_MS / 2 && wait <= FIRST_RETRY_MS, 'starts over after reset');
});

t.test('a cap below the first delay is the delay', async (t) => {
  const b = new Backoff(100);
  for (let i = 0; i < 3; i++) t.ok(b.next() <= 100);
});

t.test('the waits are spread, not one value', async (t) => {
  const waits = new Set(Array.from({ length: 20 }, () => Math.round(new Backoff(1000).next())));
  t.ok(waits.size > 1, 'jitter: nodes retrying together do not march in step');
});
