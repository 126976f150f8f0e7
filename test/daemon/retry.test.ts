import t from 'tap';
import { retryInBackground } from '../../src/daemon/retry';

t.test('a step that succeeds first time runs once', async (t) => {
  let calls = 0;
  const r = retryInBackground(async () => void calls++, 50);
  await r.firstAttempt;
  await new Promise((res) => setTimeout(res, 120));
  t.equal(calls, 1);
  r.stop();
});

t.test('a failing step is retried until it succeeds, then no more', async (t) => {
  let calls = 0;
  const r = retryInBackground(async () => {
    calls++;
    if (calls < 3) throw new Error('backend unreachable');
  }, 20);
  await r.firstAttempt;
  t.equal(calls, 1, 'first attempt awaited, did not throw');
  const deadline = Date.now() + 10_000;
  while (calls < 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  t.equal(calls, 3);
  await new Promise((res) => setTimeout(res, 100));
  t.equal(calls, 3, 'no attempts after success');
  r.stop();
});

t.test('stop() ends the retries', async (t) => {
  let calls = 0;
  const r = retryInBackground(async () => {
    calls++;
    throw new Error('down');
  }, 20);
  await r.firstAttempt;
  r.stop();
  const seen = calls;
  await new Promise((res) => setTimeout(res, 150));
  t.equal(calls, seen);
});
