// `ekmctl audit` reads the audit log from ekmd's store, read-only, while ekmd runs and
// after it stops: operations with their user and outcome, a failed login with its user
// name and address but never the password, and no secret anywhere in the output.
import t from 'tap';
import { join } from 'node:path';
import {
  BOOTSTRAP,
  ekmctl,
  login,
  operator,
  startDaemon,
  type Daemon,
  type Operator,
} from './harness';

let d: Daemon;
let op: Operator;
const WRONG_PASSWORD = 'wrong-pw-NEVER-LOGGED';

interface Event {
  seq: number;
  action: string;
  user: string;
  remoteAddress: string;
  outcome: string;
  params: Record<string, unknown>;
  details: string;
}

t.before(async () => {
  d = await startDaemon(t, false);
  op = operator(t);
  const ca = ['--ca', join(d.work.dir, 'api.crt')];
  const as = (...args: string[]) => ekmctl(op.env, ...args, ...login(d, op), ...ca);
  const made = await as('key-providers', 'create', 'audited');
  if (made.status !== 0) throw new Error(made.stderr);
  await as('key-providers', 'list');
  const missing = await as('key-providers', 'delete', '42');
  if (missing.status !== 1) throw new Error('delete of a missing provider should fail');
  const intruder = await ekmctl(
    op.env,
    'key-providers',
    'list',
    ...['--url', d.url, '--username', 'intruder'],
    ...['--password-file', op.passwordFile(WRONG_PASSWORD), ...ca],
  );
  if (intruder.status !== 1) throw new Error('a wrong password should be refused');
});

t.test('while ekmd runs: operations and the failed login', async (t) => {
  const r = await ekmctl(op.env, 'audit', '--json', '--state-dir', d.work.stateDir);
  t.equal(r.status, 0, r.stderr);
  const events = JSON.parse(r.stdout) as Event[];
  t.same(
    events.map((e) => [e.action, e.user, e.outcome]),
    [
      ['CreateKeyProviderKmip', BOOTSTRAP.username, 'ok'],
      ['DeleteKeyProviderKmip', BOOTSTRAP.username, 'xKeyProviderIDDoesNotExist'],
      ['Login', 'intruder', 'xUnauthorized'],
    ],
    'reads (ListKeyProvidersKmip) are not audited',
  );
  t.match(events[0].params, { keyProviderName: 'audited' });
  t.match(events[2], { remoteAddress: /127\.0\.0\.1$/, details: 'wrong user name or password' });
  t.notOk(r.stdout.includes(WRONG_PASSWORD), 'the wrong password is not in the log');
  t.notOk(r.stdout.includes(BOOTSTRAP.password), 'nor the right one');

  const human = await ekmctl(op.env, 'audit', '--state-dir', d.work.stateDir);
  t.equal(human.status, 0, human.stderr);
  t.match(human.stdout, /^SEQ\s+DATE\s+USER\s+FROM\s+ACTION\s+OUTCOME\s+PARAMETERS\n/);
  t.match(
    human.stdout,
    /^1\s+\S+Z\s+bootstrap\s+127\.0\.0\.1\s+CreateKeyProviderKmip\s+ok\s+keyProviderName=audited$/m,
  );
  t.match(
    human.stdout,
    /^3\s+\S+Z\s+intruder\s+127\.0\.0\.1\s+Login\s+xUnauthorized\s+failures=1/m,
  );
});

t.test('filters; EKMCTL_STATE_DIR; after ekmd stops', async (t) => {
  const env = { ...op.env, EKMCTL_STATE_DIR: d.work.stateDir };
  const [logins, failed, future, none] = await Promise.all([
    ekmctl(env, 'audit', '--action', 'login', '--json'),
    ekmctl(env, 'audit', '--failed', '--json'),
    ekmctl(env, 'audit', '--since', '2999-01-01T00:00Z'),
    ekmctl(env, 'audit', '--user', 'nobody', '--json'),
  ]);
  t.same(
    (JSON.parse(logins.stdout) as Event[]).map((e) => e.user),
    ['intruder'],
  );
  t.same(
    (JSON.parse(failed.stdout) as Event[]).map((e) => e.seq),
    [2, 3],
  );
  t.equal(future.stdout, 'no audit events\n');
  t.same(JSON.parse(none.stdout), []);

  d.ekmd.child.kill('SIGTERM');
  await d.ekmd.exited;
  const after = await ekmctl(env, 'audit', '--json');
  t.equal(after.status, 0, after.stderr);
  t.equal((JSON.parse(after.stdout) as Event[]).length, 3);
});

t.test('usage and a missing store', async (t) => {
  const bad = await ekmctl(op.env, 'audit', '--since', 'soon', '--state-dir', d.work.stateDir);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /bad --since 'soon'/);
  const conn = await ekmctl(op.env, 'audit', '--url', d.url);
  t.equal(conn.status, 2, 'the audit log is read from the store, not the API');
  const missing = await ekmctl(op.env, 'audit', '--state-dir', join(d.work.dir, 'none'));
  t.equal(missing.status, 1);
  t.match(missing.stderr, /^ekmctl audit: cannot open store/);
});
