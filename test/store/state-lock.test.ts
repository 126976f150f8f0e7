import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireStateLock, StateLockError } from '../../src/store/state-lock';

const tempDir = (t: { teardown(fn: () => void): void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

t.test('a second holder is refused until the first releases', async (t) => {
  const dir = tempDir(t);
  const first = acquireStateLock(dir);
  t.equal(statSync(first.path).mode & 0o777, 0o600);
  t.equal(readFileSync(first.path, 'utf8'), `${process.pid}\n`);
  const err = t.throws(() => acquireStateLock(dir), StateLockError) as Error;
  t.equal(err.message, `another ekmd (pid ${process.pid}) is already running with stateDir ${dir}`);
  first.release();
  first.release();
  acquireStateLock(dir).release();
});

t.test('the kernel releases the lock of a process killed with -9', async (t) => {
  const dir = tempDir(t);
  const lockModule = require.resolve('../../src/store/state-lock');
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(lockModule)}).acquireStateLock(process.argv[1]);` +
        `process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`,
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.stdout.once('data', resolve));
  t.throws(() => acquireStateLock(dir), new RegExp(`pid ${child.pid}`));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  const lock = acquireStateLock(dir);
  t.equal(readFileSync(lock.path, 'utf8'), `${process.pid}\n`, 'stale pid replaced');
  lock.release();
});

t.test('an unusable stateDir is a clear error', async (t) => {
  t.throws(() => acquireStateLock(join(tempDir(t), 'missing')), /cannot open lock file/);
});
