// Clients that arrive together with the same Basic header share one scrypt verification
// (a client pool starting up); each still gets its own answer and its own failure count.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicAuth, type FailedLogin } from '../../src/api/auth';
import { AdminCredentials } from '../../src/cluster/admin';
import { openSqliteStore } from '../../src/store';

const basic = (user: string, pass: string) =>
  'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

async function setup(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-auth-'));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const admin = await AdminCredentials.open(store, { username: 'boot', password: 'boot-pw' });
  // Count the real scrypt verifications.
  const real = admin.verify.bind(admin);
  const counted = { verifications: 0 };
  admin.verify = (user: string, pass: string) => {
    counted.verifications++;
    return real(user, pass);
  };
  const failures: FailedLogin[] = [];
  const auth = new BasicAuth(admin, undefined, (f) => failures.push(f));
  return { auth, counted, failures };
}

t.test('50 clients with the right header at once: one verification, 50 admits', async (t) => {
  const { auth, counted } = await setup(t);
  const header = basic('boot', 'boot-pw');
  const users = await Promise.all(
    Array.from({ length: 50 }, (_, i) => auth.authenticate(header, `127.0.0.${i + 1}`)),
  );
  t.same(new Set(users), new Set(['boot']), 'every client is admitted as boot');
  t.equal(counted.verifications, 1, 'scrypt ran once');
  t.equal(await auth.authenticate(header, '127.0.1.1'), 'boot', 'later: from the cache');
  t.equal(counted.verifications, 1, 'still once');
});

t.test('a wrong header shared by clients: each refused and counted on its own', async (t) => {
  const { auth, counted, failures } = await setup(t);
  const wrong = basic('boot', 'wrong');
  const users = await Promise.all(
    Array.from({ length: 10 }, (_, i) => auth.authenticate(wrong, `127.0.0.${i + 1}`)),
  );
  t.same(users, Array(10).fill(undefined), 'every client is refused');
  t.equal(counted.verifications, 1, 'scrypt ran once for the shared header');
  t.equal(failures.length, 10, 'each client address has its failure recorded');
  t.same(new Set(failures.map((f) => f.user)), new Set(['boot']));
  // Not cached: the next attempt is verified again.
  t.equal(await auth.authenticate(wrong, '127.0.0.1'), undefined);
  t.equal(counted.verifications, 2, 'a refused header is verified again next time');
});

t.test('different headers at once are verified separately', async (t) => {
  const { auth, counted } = await setup(t);
  const [right, wrong] = await Promise.all([
    auth.authenticate(basic('boot', 'boot-pw'), '127.0.0.1'),
    auth.authenticate(basic('boot', 'other'), '127.0.0.2'),
  ]);
  t.equal(right, 'boot');
  t.equal(wrong, undefined, 'the wrong password does not ride on the right one');
  t.equal(counted.verifications, 2);
});
