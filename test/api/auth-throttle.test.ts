// Password guessing is throttled: one unverified attempt in flight per client (an IPv4
// address or an IPv6 /64), answered 429 beyond it; a bounded queue of checks, answered
// 503 beyond it; a growing wait per user name; a verified header never waits.
import t from 'tap';
import { setTimeout as delay } from 'node:timers/promises';
import { BasicAuth, type FailedLogin } from '../../src/api/auth';
import { clientSource } from '../../src/api/client-address';
import type { AdminCredentials } from '../../src/cluster/admin';

const basic = (user: string, pass: string) =>
  'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

/** Admin "boot"/"boot-pw"; each check takes `checkMs` and is counted. */
function setup(checkMs = 5) {
  const counted = { checks: 0 };
  const admin = {
    revision: () => 0,
    verify: async (user: string, pass: string) => {
      counted.checks++;
      await delay(checkMs);
      return user === 'boot' && pass === 'boot-pw';
    },
  } as unknown as AdminCredentials;
  const failures: FailedLogin[] = [];
  const auth = new BasicAuth(admin, undefined, (f) => failures.push(f));
  return { auth, counted, failures };
}

t.test('parallel guesses from one client: one checked, the others 429 unchecked', async (t) => {
  const { auth, counted, failures } = setup();
  const outcomes = await Promise.all(
    Array.from({ length: 10 }, (_, i) => auth.admit(basic('boot', `guess-${i}`), '127.0.0.1')),
  );
  t.equal(counted.checks, 1, 'one password check');
  t.same(outcomes.filter((o) => 'refused' in o).length, 1);
  t.same(
    outcomes.filter((o) => 'throttled' in o),
    Array(9).fill({ throttled: 429, retryAfterS: 1 }),
  );
  t.equal(failures.filter((f) => f.throttled).length, 9, 'throttled ones reported as such');
  t.ok(
    failures.every((f) => !JSON.stringify(f).includes('guess')),
    'never a password',
  );
});

t.test('IPv6 clients count by /64; IPv4-mapped addresses as IPv4', async (t) => {
  t.equal(clientSource('2001:db8::1'), clientSource('2001:0db8:0:0:ffff::2'));
  t.not(clientSource('2001:db8::1'), clientSource('2001:db8:0:1::1'));
  t.equal(clientSource('::ffff:127.0.0.1'), '127.0.0.1');
  t.equal(clientSource('fe80::1%eth0'), 'fe80:0:0:0::/64');
  const { auth, counted } = setup();
  const [a, b, c] = await Promise.all([
    auth.authenticate(basic('boot', 'x1'), '2001:db8::1'),
    auth.authenticate(basic('boot', 'x2'), '2001:db8::2'),
    auth.authenticate(basic('boot', 'x3'), '2001:db8:0:1::1'),
  ]);
  t.same([a, b, c], [undefined, undefined, undefined]);
  t.equal(counted.checks, 2, 'one check for the shared /64, one for the other');
});

t.test('a bounded queue of checks; a verified header never waits behind it', async (t) => {
  const { auth, counted } = setup(200);
  t.equal(await auth.authenticate(basic('boot', 'boot-pw'), '10.0.0.1'), 'boot');
  counted.checks = 0;
  const flood = Promise.all(
    Array.from({ length: 40 }, (_, i) => auth.admit(basic(`u${i}`, 'x'), `10.1.0.${i + 1}`)),
  );
  await delay(20);
  const started = Date.now();
  t.same(await auth.admit(basic('boot', 'boot-pw'), '10.0.0.1'), { user: 'boot' });
  t.ok(Date.now() - started < 50, 'the verified header is admitted at once');
  const outcomes = await flood;
  t.ok(counted.checks <= 10, `at most 10 checks (${counted.checks})`);
  const busy = outcomes.filter((o) => 'throttled' in o && o.throttled === 503);
  t.equal(busy.length, 40 - counted.checks, 'the others answered 503');
});

t.test('a user name that keeps failing waits; a client it knows does not', async (t) => {
  const { auth } = setup();
  t.equal(await auth.authenticate(basic('boot', 'boot-pw'), '10.0.0.1'), 'boot');
  for (let i = 0; i < 10; i++) {
    t.equal(await auth.authenticate(basic('boot', `g${i}`), `10.2.0.${i + 1}`), undefined);
    await delay(200); // within the checks' rate
  }
  const started = Date.now();
  const [waited, parallel] = await Promise.all([
    auth.admit(basic('boot', 'g10'), '10.2.1.1'),
    delay(20).then(() => auth.admit(basic('boot', 'g11'), '10.2.1.2')),
  ]);
  t.same(waited, { refused: 401 });
  t.ok(Date.now() - started >= 100, 'the 11th failure in a row waited 100 ms');
  t.same(parallel, { throttled: 429, retryAfterS: 1 }, 'one attempt at a time for the user');
  const known = Date.now();
  t.equal(await auth.authenticate(basic('boot', 'boot-pw '), '10.0.0.1'), undefined);
  t.ok(Date.now() - known < 80, 'the client that logged in as boot is not slowed');
  t.equal(await auth.authenticate(basic('boot', 'boot-pw'), '10.0.0.1'), 'boot');
});
