// ekmctl run where `npm start` keeps its state: with no flags, environment or config file,
// it reaches the dev daemon named by .state/ekmd.json as the admin of .state/admin.json,
// trusting the certificate in the daemon's stateDir; a readable admin.json is refused.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin } from '../../helpers/paths';
import { BOOTSTRAP, operator, startDaemon, type Daemon, type Run } from './harness';

let d: Daemon;
t.before(async () => {
  d = await startDaemon(t, true);
});

/** A directory like the repository root after `npm start`. */
function devCwd(t: { teardown(fn: () => void): void }): { cwd: string; admin: string } {
  const cwd = mkdtempSync(join(tmpdir(), 'ekmctl-dev-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const state = join(cwd, '.state');
  mkdirSync(state, { mode: 0o700 });
  const admin = join(state, 'admin.json');
  writeFileSync(admin, JSON.stringify(BOOTSTRAP), { mode: 0o600 });
  const config = { stateDir: d.work.stateDir, api: { listen: new URL(d.url).host } };
  writeFileSync(join(state, 'ekmd.json'), JSON.stringify(config), { mode: 0o600 });
  return { cwd, admin };
}

function ekmctlIn(cwd: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin.ekmctl, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

t.test('finds the dev daemon and its admin, no pinning', async (t) => {
  const { cwd } = devCwd(t);
  const r = await ekmctlIn(cwd, operator(t).env, 'key-providers', 'list', '--json');
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), []);
  t.equal(r.stderr, '', 'the certificate in stateDir is trusted, not pinned');
});

t.test('an admin.json readable by others is refused, without its secret', async (t) => {
  const { cwd, admin } = devCwd(t);
  chmodSync(admin, 0o644);
  const r = await ekmctlIn(cwd, operator(t).env, 'key-providers', 'list');
  t.equal(r.status, 1);
  t.match(r.stderr, /refusing .*admin\.json: it is readable by group or others/);
  t.notOk((r.stdout + r.stderr).includes(BOOTSTRAP.password));
});

t.test('flags win: with --url the dev state is not used', async (t) => {
  const { cwd } = devCwd(t);
  const r = await ekmctlIn(cwd, operator(t).env, 'key-providers', 'list', '--url', d.url);
  t.not(r.status, 0);
  t.match(r.stderr, /no username/);
});
