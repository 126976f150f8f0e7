// `ekmctl faults` against a real ekmd and, once it is stopped, against its store file:
// list with filters, clear, and --follow both online and offline. The faults are written
// into ekmd's store by this test through the fault service, as ekmd's own services would
// (SQLite lets two processes share the file); ekmd serves them from there.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FaultService } from '../../../src/cluster/faults';
import { openSqliteStore, type SqliteStore } from '../../../src/store';
import { follow } from './follow';
import { ekmctl, login, operator, startDaemon, type Daemon, type Operator } from './harness';

let d: Daemon;
let op: Operator;
let store: SqliteStore;
let faults: FaultService;
let auth: string[];
const faultsOf = (r: { stdout: string }) =>
  (JSON.parse(r.stdout) as { code: string; clusterFaultID: number; resolved: boolean }[]).map(
    (f) => `${f.clusterFaultID}:${f.code}${f.resolved ? ':resolved' : ''}`,
  );

t.before(async () => {
  d = await startDaemon(t, false);
  op = operator(t);
  auth = [...login(d, op), '--ca', join(d.work.dir, 'api.crt')];
  store = openSqliteStore(join(d.work.stateDir, 'ekmd.db'));
  faults = new FaultService(store);
  t.teardown(async () => {
    faults.close();
    await store.close();
  });
  await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server 1 (kms-1) unreachable.');
  await faults.reportNodeDrives('driveFailed', 1, [2, 3]);
  await faults.raise('kmipCertificateFault', { keyServerID: 2 }, 'Certificate expires in 5 days.');
  await faults.resolve('kmipCertificateFault', { keyServerID: 2 });
});

t.test('online: list, filters, json', async (t) => {
  const human = await ekmctl(op.env, 'faults', 'list', ...auth);
  t.equal(human.status, 0, human.stderr);
  t.match(human.stdout, /^ID\s+DATE\s+SEVERITY\s+CODE\s+NODE\s+DRIVES\s+RESOLVED\s+DETAILS\n/);
  t.match(human.stdout, /^1\s+\S+Z\s+error\s+kmipServerFault\s+-\s+-\s+-\s+Key server 1/m);
  t.match(human.stdout, /^2\s+\S+Z\s+warning\s+driveFailed\s+1\s+2,3\s+-\s+Node ID 1 has 2/m);
  t.match(human.stdout, /^3\s+\S+Z\s+warning\s+kmipCertificateFault\s+-\s+-\s+\S+Z\s+/m);
  t.equal(human.stderr, '');

  const runs = await Promise.all(
    [
      ['--json'],
      ['--current', '--json'],
      ['--resolved', '--json'],
      ['--code', 'driveFailed', '--json'],
      ['--severity', 'error', '--json'],
      ['--since', '1h', '--json'],
      ['--since', '2999-01-01', '--json'],
    ].map((flags) => ekmctl(op.env, 'faults', 'list', ...flags, ...auth)),
  );
  t.same(runs.map(faultsOf), [
    ['1:kmipServerFault', '2:driveFailed', '3:kmipCertificateFault:resolved'],
    ['1:kmipServerFault', '2:driveFailed'],
    ['3:kmipCertificateFault:resolved'],
    ['2:driveFailed'],
    ['1:kmipServerFault'],
    ['1:kmipServerFault', '2:driveFailed', '3:kmipCertificateFault:resolved'],
    [],
  ]);
  const full = JSON.parse(runs[0].stdout)[1];
  t.match(full, { nodeID: 1, driveIDs: [2, 3], severity: 'warning', type: 'drive' }, 'Element');
});

t.test('usage errors exit 2 and say why', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--current', '--resolved'], /one of --current, --resolved, --all/],
    [['--code', 'noSuchFault'], /unknown --code 'noSuchFault' \(one of kmipServerFault/],
    [['--severity', 'fatal'], /bad --severity/],
    [['--since', 'yesterday'], /bad --since 'yesterday'/],
    [['--follow', '--interval', '0'], /bad --interval/],
  ];
  for (const [flags, message] of cases) {
    const r = await ekmctl(op.env, 'faults', 'list', ...flags, ...auth);
    t.equal(r.status, 2, flags.join(' '));
    t.match(r.stderr, message);
  }
  const noUser = await ekmctl(op.env, 'faults', 'list', '--url', d.url);
  t.equal(noUser.status, 2, 'while ekmd answers, it needs credentials');
  t.match(noUser.stderr, /no username/);
});

t.test('follow online: raised, resolved and cleared faults, until Ctrl-C', async (t) => {
  const f = follow(t, op.env, 'faults', 'list', '--follow', '--interval', '0.2', '--json', ...auth);
  await f.waitFor(/"change":"listed".*"clusterFaultID":3/);
  const raised = await faults.raise(
    'driveAvailable',
    { nodeID: 1 },
    'Node ID 1 has 1 available drive(s).',
  );
  await f.waitFor(
    new RegExp(`"change":"raised","fault":\\{[^\\n]*"clusterFaultID":${raised.clusterFaultID}`),
  );
  await faults.resolve('driveAvailable', { nodeID: 1 });
  await f.waitFor(/"change":"resolved","fault":\{[^\n]*"code":"driveAvailable"/);
  const cleared = await ekmctl(op.env, 'faults', 'clear', ...auth);
  t.equal(cleared.status, 0, cleared.stderr);
  t.equal(cleared.stdout, 'cleared resolved faults\n');
  await f.waitFor(new RegExp(`"change":"cleared","clusterFaultID":${raised.clusterFaultID}`));
  await f.waitFor(/"change":"cleared","clusterFaultID":3\b/);
  t.equal(await f.interrupt(), 0, 'Ctrl-C ends --follow with exit 0');
  const lines = f
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { change: string });
  t.same(
    lines.map((l) => l.change),
    ['listed', 'listed', 'listed', 'raised', 'resolved', 'cleared', 'cleared'],
  );
  const listed = await ekmctl(op.env, 'faults', 'list', '--json', ...auth);
  t.same(faultsOf(listed), ['1:kmipServerFault', '2:driveFailed'], 'clear kept current faults');
});

t.test('offline once ekmd is stopped: refused connection, or --state-dir', async (t) => {
  d.ekmd.child.kill('SIGTERM');
  await d.ekmd.exited;
  // Nobody holds the file now, as at boot: the last connection has checkpointed the WAL.
  faults.close();
  await store.close();
  const db = join(d.work.stateDir, 'ekmd.db');
  const before = { bytes: readFileSync(db), mtime: statSync(db).mtimeMs };

  const env = { ...op.env, EKMCTL_STATE_DIR: d.work.stateDir };
  const fallback = await ekmctl(env, 'faults', 'list', '--current', ...auth);
  t.equal(fallback.status, 0, fallback.stderr);
  t.match(
    fallback.stderr,
    /nothing answers at 127\.0\.0\.1:\d+ \(connection refused\); reading the fault log from/,
  );
  t.match(fallback.stdout, /^1\s+.*kmipServerFault/m);
  t.match(fallback.stdout, /^2\s+.*driveFailed/m);

  const noCredentials = await ekmctl(env, 'faults', 'list', '--current', '--url', d.url);
  t.equal(noCredentials.status, 0, 'at boot, no credentials are needed to read the log');
  t.equal(noCredentials.stdout, fallback.stdout);

  const direct = await ekmctl(op.env, 'faults', 'list', '--json', '--state-dir', d.work.stateDir);
  t.equal(direct.status, 0, direct.stderr);
  t.same(faultsOf(direct), ['1:kmipServerFault', '2:driveFailed']);
  t.equal(direct.stderr, '', 'with --state-dir, no daemon is looked for');

  const clear = await ekmctl(op.env, 'faults', 'clear', ...auth);
  t.equal(clear.status, 1, 'clearing needs ekmd');
  t.match(clear.stderr, /connection refused/);

  t.same(readFileSync(db), before.bytes, 'the store file is not written');
  t.equal(statSync(db).mtimeMs, before.mtime);

  const missing = await ekmctl(op.env, 'faults', 'list', '--state-dir', join(d.work.dir, 'none'));
  t.equal(missing.status, 1);
  t.match(missing.stderr, /cannot open store/);

  store = openSqliteStore(db);
  faults = new FaultService(store);
});

t.test('follow offline sees what is written to the store', async (t) => {
  const g = follow(
    t,
    op.env,
    ...['faults', 'list', '--follow', '--current', '--interval', '0.2'],
    ...['--state-dir', d.work.stateDir],
  );
  await g.waitFor(/^2\s+.*driveFailed/m);
  await faults.reportNodeDrives('driveFailed', 1, [2, 3, 4]);
  await g.waitFor(/updated\s+#2 warning driveFailed: Node ID 1 has 3 failed drive\(s\)\./);
  await faults.resolve('kmipServerFault', { keyServerID: 1 });
  await g.waitFor(/resolved\s+#1 error kmipServerFault: Key server 1/);
  t.equal(await g.interrupt(), 0);
});
