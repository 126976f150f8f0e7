// A crashing ekmd writes no core file, even started outside systemd with an unlimited core
// size: it makes itself non-dumpable and sets its core limit to 0 as it starts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready, runEkmd, workdir } from './ekmd-process';

/** `sh` running the rest in `dir` with no limit on core files. */
const unlimitedIn = (dir: string) => [
  'sh',
  '-c',
  'cd "$0" && ulimit -c unlimited && exec "$@"',
  dir,
];

const cores = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('core'));

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-core-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Whether a plain node that aborts leaves a core file here (core_pattern, limits). */
function coresAreWritten(dir: string): boolean {
  const [sh, ...args] = unlimitedIn(dir);
  spawnSync(sh, [...args, process.execPath, '-e', 'process.abort()']);
  const written = cores(dir).length > 0;
  for (const f of cores(dir)) rmSync(join(dir, f));
  return written;
}

const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
const probe = mkdtempSync(join(tmpdir(), 'ekmd-core-probe-'));
const skip = coresAreWritten(probe)
  ? false
  : `an aborting process leaves no core file here (core_pattern ${pattern})`;
rmSync(probe, { recursive: true, force: true });

t.test('an aborting ekmd leaves no core file', { skip }, async (t) => {
  const w = workdir(t);
  const cwd = scratch(t);
  const ekmd = runEkmd(t, w.config, unlimitedIn(cwd));
  await ready(ekmd);
  const pid = ekmd.child.pid!;
  t.match(
    readFileSync(`/proc/${pid}/limits`, 'utf8'),
    /^Max core file size\s+0\s+0\s+bytes\s*$/m,
    'its core limit is 0, though started with none',
  );
  const stopped = new Promise((resolve) =>
    ekmd.child.once('exit', (_c, signal) => resolve(signal)),
  );
  ekmd.child.kill('SIGABRT');
  t.equal(await stopped, 'SIGABRT', 'it crashed');
  t.same(cores(cwd), [], 'no core file in its working directory');
});
