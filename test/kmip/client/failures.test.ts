import t from 'tap';
import { FailureMemory } from '../../../src/kmip/client/failures';

t.test('failed endpoints go last until forgiven', async (t) => {
  let now = 1000;
  const m = new FailureMemory(500, () => now);
  const hosts = ['a', 'b', 'c'];
  t.same(
    m.order(hosts, (h) => h),
    ['a', 'b', 'c'],
  );
  m.failed('a');
  now += 10;
  m.failed('b');
  t.same(
    m.order(hosts, (h) => h),
    ['c', 'a', 'b'],
    'soonest forgiven first among failed',
  );
  now += 495;
  t.same(
    m.order(hosts, (h) => h),
    ['a', 'c', 'b'],
    'a forgiven after 500 ms',
  );
  m.succeeded('b');
  t.same(
    m.order(hosts, (h) => h),
    ['a', 'b', 'c'],
  );
});
