// `ekmctl store backup`: a consistent 0600 copy of a live ekmd's store, never over an
// existing file.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
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
