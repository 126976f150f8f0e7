// `ekmctl store backup`: a consistent 0600 copy of a live ekmd's store, never over an
// existing file.
import t from 'tap';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '../../../src/store';
import { ekmctl, login, operator, startDaemon } from './harness';

t.test('backs up the store of a running ekmd', async (t) => {
  const d = await startDaemon(t, false);
  const op = operator(t);
  const made = await ekmctl(op.env, 'key-providers', 'create', 'in-the-backup', ...login(d, op));
  t.equal(made.status, 0, made.stderr);

  const dest = join(d.work.dir, 'ekmd-backup.db');
  const r = await ekmctl(op.env, 'store', 'backup', dest, '--state', d.work.stateDir, '--json');
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { source: join(d.work.stateDir, 'ekmd.db'), backup: dest });
  t.equal(statSync(dest).mode & 0o777, 0o600);
  const copy = openSqliteStore(dest, { readonly: true });
  t.teardown(() => copy.close());
  const values = JSON.stringify(copy.list('').map((e) => e.value));
  t.match(values, 'in-the-backup', 'the copy holds what ekmd wrote');

  const before = readFileSync(dest);
  const again = await ekmctl(op.env, 'store', 'backup', dest, '--state', d.work.stateDir);
  t.equal(again.status, 1);
  t.match(again.stderr, /^ekmctl store backup: .*already exists/);
  t.same(readFileSync(dest), before, 'the existing file is untouched');

  const notStore = join(d.work.dir, 'not-a-state-dir');
  const missing = await ekmctl(
    op.env,
    'store',
    'backup',
    join(d.work.dir, 'x.db'),
    '--state',
    notStore,
  );
  t.equal(missing.status, 1);
  t.match(missing.stderr, /cannot open store/);
  t.throws(() => statSync(join(d.work.dir, 'x.db')), 'nothing written');
});

t.test('a snapshot restores into an empty store, never into one in use', async (t) => {
  const d = await startDaemon(t, false);
  const op = operator(t);
  const made = await ekmctl(op.env, 'key-providers', 'create', 'in-the-snapshot', ...login(d, op));
  t.equal(made.status, 0, made.stderr);
  const snap = join(d.work.dir, 'ekmd-snapshot.json');
  const r = await ekmctl(op.env, 'store', 'backup', snap, '--snapshot', '--state', d.work.stateDir);
  t.equal(r.status, 0, r.stderr);
  t.equal(statSync(snap).mode & 0o777, 0o600);
  const taken = JSON.parse(readFileSync(snap, 'utf8')) as { entries: { key: string }[] };

  const fresh = join(d.work.dir, 'restored');
  const restored = await ekmctl(op.env, 'store', 'restore', snap, '--state', fresh, '--json');
  t.equal(restored.status, 0, restored.stderr);
  t.match(JSON.parse(restored.stdout), { entries: taken.entries.length });
  const copy = openSqliteStore(join(fresh, 'ekmd.db'), { readonly: true });
  t.teardown(() => copy.close());
  t.same(
    copy.list('').map((e) => e.key),
    taken.entries.map((e) => e.key),
    'every entry, as the snapshot has it',
  );
  t.match(JSON.stringify(copy.list('').map((e) => e.value)), 'in-the-snapshot');

  const again = await ekmctl(op.env, 'store', 'restore', snap, '--state', fresh);
  t.equal(again.status, 1);
  t.match(again.stderr, /not empty/, 'a restore never merges into a store in use');
  const both = await ekmctl(op.env, 'store', 'restore', snap);
  t.equal(both.status, 2, 'a target is needed');
  const garbage = join(d.work.dir, 'garbage.json');
  writeFileSync(garbage, '{"format":"other"}');
  const bad = await ekmctl(op.env, 'store', 'restore', garbage, '--state', join(d.work.dir, 'g'));
  t.equal(bad.status, 1);
  t.match(bad.stderr, /is not a store snapshot/);
});

t.test('usage errors', async (t) => {
  const op = operator(t);
  const none = await ekmctl(op.env, 'store', 'backup');
  t.equal(none.status, 2);
  t.match(none.stderr, /missing FILE/);
  const conn = await ekmctl(op.env, 'store', 'backup', 'f.db', '--url', 'https://x');
  t.equal(conn.status, 2, 'an offline command takes no connection flags');
  const help = await ekmctl(op.env, 'store', 'backup', '--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /To restore: stop ekmd/);
});
