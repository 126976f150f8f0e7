// The unit's sandbox must let ekmd work: SystemCallFilter= has to allow every syscall node
// and ekmd's native parts make (a denied one fails with EPERM deep inside V8 or SQLite at
// boot), and CapabilityBoundingSet= every capability they need. A workload of what ekmd
// does is traced, and run with only the unit's capabilities, as the unit's user when the
// test may switch users (as root, SQLite would make root-only calls ekmd never makes).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths';
import { asUnit, unitUser, whyNotAsUnit } from './unit-user';

const workload = join(repoRoot, 'dist/test/systemd/fixtures/sandbox-workload.js');
const unitText = readFileSync(join(repoRoot, 'systemd/ekmd.service'), 'utf8');

const run = (cmd: string, args: string[]) =>
  spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
function whyNot(): string | false {
  const missing = ['systemd-analyze', 'strace'].filter((c) => run(c, ['--version']).error);
  if (missing.length) return `${missing.join(' and ')} not installed`;
  const probe = run('strace', ['-qq', '-o', '/dev/null', process.execPath, '-e', '0']);
  if (probe.status !== 0) return `strace cannot trace here: ${probe.stderr.trim().split('\n')[0]}`;
  return false;
}
const skip = whyNot();
/** setpriv as the unit, when it works here; else the test's own user. */
const asUnitUser = whyNotAsUnit() === false;

/** A scratch directory the workload's user owns. */
function workDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (asUnitUser) chownSync(dir, unitUser.uid!, unitUser.gid!);
  return dir;
}

/** The syscalls a filter item names: a group expands recursively, a name is itself. */
function expand(item: string, seen = new Set<string>()): Set<string> {
  if (!item.startsWith('@')) return new Set([item]);
  const out = new Set<string>();
  if (seen.has(item)) return out;
  seen.add(item);
  const r = run('systemd-analyze', ['syscall-filter', '--no-pager', item]);
  if (r.status !== 0) throw new Error(`systemd-analyze syscall-filter ${item}: ${r.stderr}`);
  for (const line of r.stdout.split('\n').slice(1)) {
    const name = line.trim();
    if (name === '' || name.startsWith('#')) continue;
    for (const s of expand(name, seen)) out.add(s);
  }
  return out;
}

/** Allow-list semantics of SystemCallFilter=: allowed lines add, `~` lines take away. */
function allowedByUnit(text: string): Set<string> {
  const allowed = new Set<string>();
  for (const m of text.matchAll(/^SystemCallFilter=(~?)(.*)$/gm)) {
    for (const item of m[2].split(/\s+/).filter(Boolean)) {
      for (const s of expand(item)) {
        if (m[1]) allowed.delete(s);
        else allowed.add(s);
      }
    }
  }
  return allowed;
}

t.test("every syscall of ekmd's workload passes the unit's filter", { skip }, async (t) => {
  const dir = workDir(t, 'ekmd-syscalls-');
  const summary = join(dir, 'strace.txt');
  const notifyListener = `@ekmd-syscalls-${process.pid}`;
  const traced = ['strace', '-f', '-qq', '-c', '-o', summary, process.execPath, workload, dir];
  const [command, ...args] = [...(asUnitUser ? asUnit() : []), ...traced];
  t.comment(asUnitUser ? 'traced as the unit runs it (setpriv)' : 'traced as this user');
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, NOTIFY_SOCKET: notifyListener, WATCHDOG_USEC: '20000' },
    timeout: 60_000,
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'done\n', 'the workload ran to its end');

  const used = new Set<string>();
  for (const line of readFileSync(summary, 'utf8').split('\n')) {
    const name = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+(?:\s+\d+)?\s+(\w+)$/.exec(line)?.[1];
    if (name && name !== 'total') used.add(name);
  }
  t.ok(used.has('ioctl') && used.has('sendto'), 'the trace saw the native calls');

  const allowed = allowedByUnit(unitText);
  t.ok(allowed.size > 300, `filter expands to ${allowed.size} syscalls`);
  const refused = [...used].filter((s) => !allowed.has(s)).sort();
  t.same(refused, [], `of ${used.size} syscalls used, none refused`);
});

/** setpriv's --bounding-set argument for the unit's CapabilityBoundingSet=. */
function boundingSet(text: string): string {
  const caps = /^CapabilityBoundingSet=(.*)$/m.exec(text)?.[1].split(/\s+/) ?? [];
  return ['-all', ...caps.map((c) => '+' + c.replace(/^CAP_/, '').toLowerCase())].join(',');
}

function whyNotSetpriv(): string | false {
  const probe = run('setpriv', ['--bounding-set', '-all', '--', process.execPath, '-e', '0']);
  if (probe.error) return 'setpriv not installed';
  if (probe.status !== 0) return `setpriv cannot drop capabilities here: ${probe.stderr.trim()}`;
  return false;
}

t.test(
  "ekmd's workload runs with only the unit's capabilities",
  { skip: whyNotSetpriv() },
  async (t) => {
    const dir = workDir(t, 'ekmd-caps-');
    const bounding = boundingSet(unitText);
    t.equal(bounding, '-all,+sys_admin');
    const setpriv = ['--bounding-set', bounding, '--', process.execPath];
    const caps = run('setpriv', [
      ...setpriv,
      '-p',
      "require('fs').readFileSync('/proc/self/status', 'utf8')",
    ]);
    const effective = /^CapEff:\s+([0-9a-f]+)$/m.exec(caps.stdout)?.[1];
    if (process.getuid?.() === 0) {
      t.equal(effective, (1n << 21n).toString(16).padStart(16, '0'), 'CAP_SYS_ADMIN alone');
    }
    // As the unit's user with its ambient capability when possible, else root's bounding set.
    const [command, ...args] = asUnitUser
      ? [...asUnit(), process.execPath]
      : ['setpriv', ...setpriv];
    const r = spawnSync(command, [...args, workload, dir], {
      encoding: 'utf8',
      env: { ...process.env, NOTIFY_SOCKET: `@ekmd-caps-${process.pid}`, WATCHDOG_USEC: '20000' },
      timeout: 60_000,
    });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, 'done\n', 'the workload ran to its end');
  },
);
