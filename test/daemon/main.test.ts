import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin } from '../helpers/paths';
import { BOOTSTRAP, ready, rpc, runEkmd, workdir } from './ekmd-process';

const ekmd = (...args: string[]) =>
  spawnSync(process.execPath, [bin.ekmd, ...args], { encoding: 'utf8' });

t.test('ekmd --help prints usage', async (t) => {
  const r = ekmd('--help');
  t.equal(r.status, 0);
  t.match(r.stdout, /Usage: ekmd --config FILE/);
});

t.test('ekmd rejects an unknown option with exit 2', async (t) => {
  const r = ekmd('--bogus');
  t.equal(r.status, 2);
  t.match(r.stderr, /bogus/);
});

t.test('ekmd-sim with an unknown command exits 2', async (t) => {
  const r = spawnSync(process.execPath, [bin.ekmdSim, 'nope'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown command 'nope'/);
});

t.test('ekmd without --config is a usage error', async (t) => {
  const r = ekmd();
  t.equal(r.status, 2);
  t.match(r.stderr, /--config FILE is required/);
});

t.test('a bad config is one clear line and exit 2', async (t) => {
  const w = workdir(t, { log: { level: 'chatty' }, extra: 1 });
  const r = ekmd('--config', w.config);
  t.equal(r.status, 2);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.match(r.stderr, /^ekmd: config .*ekmd\.json: extra: unknown key; log\.level: must be one of/);
  t.notMatch(r.stderr, BOOTSTRAP.password);
  t.equal(ekmd('--config', join(w.dir, 'none.json')).status, 2);
});

t.test(
  'one ekmd per stateDir; kill -9 never blocks a restart; signals stop it cleanly',
  async (t) => {
    const w = workdir(t);
    const first = runEkmd(t, w.config);
    const port = await ready(first);
    const api = await rpc(port, w.ca, BOOTSTRAP, 'GetAPI');
    t.equal(api.status, 200);
    t.match(JSON.parse(api.body), { id: 0, result: { currentVersion: '12.3' } });

    const second = runEkmd(t, w.config);
    t.equal(await second.exited, 1, 'second ekmd exits 1');
    t.match(
      second.output(),
      `ekmd: another ekmd (pid ${first.child.pid}) is already running with stateDir ${w.stateDir}`,
    );
    t.equal(statSync(w.stateDir).mode & 0o777, 0o700);
    t.equal(statSync(join(w.stateDir, 'ekmd.db')).mode & 0o777, 0o600);

    const admin = { username: 'admin', password: 'cluster-admin-pw' };
    const created = await rpc(port, w.ca, BOOTSTRAP, 'CreateCluster', {
      acceptEula: true,
      mvip: '127.0.0.1',
      svip: '127.0.0.2',
      nodes: ['127.0.0.1'],
      ...admin,
    });
    t.notMatch(created.body, /"error"/);
    first.child.kill('SIGKILL');
    await first.exited;

    const restarted = runEkmd(t, w.config);
    const port2 = await ready(restarted);
    t.equal((await rpc(port2, w.ca, BOOTSTRAP, 'GetAPI')).status, 401, 'bootstrap replaced');
    const info = await rpc(port2, w.ca, admin, 'GetClusterInfo');
    t.match(JSON.parse(info.body), { result: { clusterInfo: { mvip: '127.0.0.1' } } });
    restarted.child.kill('SIGTERM');
    t.equal(await restarted.exited, 0, 'SIGTERM: clean exit 0');
    t.match(restarted.output(), /"msg":"ekmd stopped"/);

    const third = runEkmd(t, w.config);
    await ready(third);
    third.child.kill('SIGINT');
    t.equal(await third.exited, 0, 'SIGINT: clean exit 0');
    const logs = first.output() + restarted.output() + third.output();
    t.notMatch(logs, BOOTSTRAP.password, 'no bootstrap password in the logs');
    t.notMatch(logs, admin.password, 'no admin password in the logs');
  },
);

t.test('a corrupt store is refused with a clear error and left untouched', async (t) => {
  const w = workdir(t);
  mkdirSync(w.stateDir, { mode: 0o700 });
  writeFileSync(join(w.stateDir, 'ekmd.db'), Buffer.alloc(4096, 0x5a), { mode: 0o600 });
  const r = ekmd('--config', w.config);
  t.equal(r.status, 1);
  t.match(r.stderr, /ekmd: store .*ekmd\.db is not a readable database/);
  t.same(readFileSync(join(w.stateDir, 'ekmd.db')), Buffer.alloc(4096, 0x5a));
});
