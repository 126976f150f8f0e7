import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths';

const unitText = readFileSync(join(repoRoot, 'systemd/ekmd.service'), 'utf8');
/** The documented drop-ins, as an operator installs them in ekmd.service.d/. */
const dropIns = Object.fromEntries(
  ['ip-allow', 'seal-credential'].map((name) => [
    `${name}.conf`,
    readFileSync(join(repoRoot, `systemd/${name}.conf.example`), 'utf8'),
  ]),
);

const analyze = (...args: string[]) =>
  spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
const skip = analyze('--version').error
  ? 'systemd-analyze not installed (apt-get install systemd)'
  : false;

/** `Key=value` lines per key, in order; comments and section headers dropped. */
function settings(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    map.set(key, [...(map.get(key) ?? []), line.slice(eq + 1)]);
  }
  return map;
}

/**
 * A copy of the unit in a temp dir, with the interpreter pointed at this node: verify
 * checks that ExecStart's binary exists, and /usr/bin/node may not on a build machine.
 */
function stageUnit(
  t: tap.Test,
  opts: { dropIns?: Record<string, string>; extra?: string } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const text = unitText.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `);
  const unit = join(dir, 'ekmd.service');
  writeFileSync(unit, text + (opts.extra ?? ''));
  if (opts.dropIns) {
    mkdirSync(join(dir, 'ekmd.service.d'));
    for (const [name, text] of Object.entries(opts.dropIns)) {
      writeFileSync(join(dir, 'ekmd.service.d', name), text);
    }
  }
  return unit;
}

/** Lines of verify's output about our unit; anything else is about the host's units. */
function verify(t: tap.Test, unit: string): { status: number | null; ours: string[] } {
  const r = analyze('verify', unit);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const ours = lines.filter((l) => /ekmd/.test(l));
  for (const l of lines) if (!ours.includes(l)) t.comment(`host: ${l}`);
  return { status: r.status, ours };
}

function exposure(unit: string): { status: number | null; score: number } {
  const r = analyze('security', '--offline=true', '--threshold=19', '--no-pager', unit);
  const m = /Overall exposure level for ekmd\.service: (\d+\.\d)/.exec(r.stdout);
  return { status: r.status, score: m ? Number(m[1]) : NaN };
}

t.test('the unit carries the settings a boot-time unlock daemon needs', async (t) => {
  const s = settings(unitText);
  const one = (key: string) => s.get(key)?.join(' ');
  t.equal(one('Type'), 'notify');
  t.equal(one('NotifyAccess'), 'main');
  t.match(one('WatchdogSec'), /^\d+s$/);
  t.equal(one('DefaultDependencies'), 'no');
  t.equal(one('Wants'), 'network-online.target');
  t.equal(one('After'), 'network-online.target');
  t.same(s.get('Before'), ['remote-cryptsetup.target remote-fs-pre.target', 'shutdown.target']);
  t.notMatch(unitText, /^Before=.*local-fs-pre\.target/m, 'no cycle with network stacks');
  t.equal(one('Conflicts'), 'shutdown.target');
  t.equal(
    one('ExecStart'),
    '/usr/bin/node /usr/lib/ekmd/dist/src/daemon/main.js --config /etc/ekmd/ekmd.json',
  );
  t.equal(one('Restart'), 'on-failure');
  t.equal(one('SyslogIdentifier'), 'ekmd', 'journal lines say ekmd, not node');
  t.equal(
    one('Environment'),
    'MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072',
    'glibc malloc bounded: 2 arenas, 128 KiB blocks mapped apart, freed memory handed back',
  );
  t.equal(one('StateDirectory'), 'ekmd');
  t.equal(one('StateDirectoryMode'), '0700');
  t.equal(one('ConfigurationDirectory'), 'ekmd');
  t.equal(one('User'), 'ekmd', 'not root');
  t.equal(one('Group'), 'ekmd');
  t.equal(one('SupplementaryGroups'), 'disk', "the drives' device nodes");
  t.equal(one('AmbientCapabilities'), 'CAP_SYS_ADMIN', 'the sed-opal ioctls');
  t.equal(one('CapabilityBoundingSet'), 'CAP_SYS_ADMIN');
  t.equal(one('ConfigurationDirectoryMode'), '0750', 'ekmd reads /etc/ekmd through its group');
  t.equal(one('LimitCORE'), '0', 'no core file with keys in it');
  t.equal(one('MemorySwapMax'), '0', 'no key swapped out');
  t.equal(one('DevicePolicy'), 'closed');
  t.same(s.get('DeviceAllow'), ['block-sd rw', 'block-blkext rw']);
  t.equal(one('RestrictAddressFamilies'), 'AF_UNIX AF_INET AF_INET6');
  t.same(s.get('SystemCallFilter'), [
    '@system-service ioctl',
    'pkey_alloc pkey_free pkey_mprotect',
    '~@resources',
    '~@privileged',
  ]);
  t.equal(one('SystemCallErrorNumber'), 'EPERM', 'a denied call fails, never kills');
  for (const key of [
    'NoNewPrivileges',
    'ProtectHome',
    'PrivateTmp',
    'PrivateMounts',
    'LockPersonality',
    'RestrictRealtime',
    'ProtectKernelTunables',
    'ProtectKernelModules',
    'ProtectKernelLogs',
  ]) {
    t.equal(one(key), 'yes', key);
  }
  t.equal(one('ProtectSystem'), 'strict');
  t.equal(one('PrivateDevices'), 'no', 'drives must stay visible');
  t.equal(one('MemoryDenyWriteExecute'), 'no', "V8's JIT");
  t.notOk(s.has('IPAddressAllow'), 'key servers come from the API: no allow-list shipped');
  t.match(unitText, /does NOT lock the drives/, 'stopping leaves drives unlocked: documented');
});

t.test('systemd-analyze verify passes on the unit', { skip }, (t) => {
  const clean = verify(t, stageUnit(t));
  t.equal(clean.status, 0);
  t.same(clean.ours, [], 'no warnings about the unit');
  const withDropIns = verify(t, stageUnit(t, { dropIns }));
  t.equal(withDropIns.status, 0);
  t.same(withDropIns.ours, [], 'no warnings about the documented drop-ins');
  // The check can fail: a misspelt setting is reported.
  const bad = verify(t, stageUnit(t, { extra: 'ProtectSystme=strict\n' }));
  t.match(bad.ours.join('\n'), /Unknown key/);
  t.end();
});

t.test('systemd-analyze security scores the unit at most 1.9', { skip }, (t) => {
  const unit = exposure(stageUnit(t));
  t.equal(unit.status, 0, `exposure ${unit.score} within --threshold=19`);
  t.ok(unit.score <= 1.9, `exposure ${unit.score} <= 1.9`);
  const allowListed = exposure(
    stageUnit(t, { dropIns: { 'ip-allow.conf': dropIns['ip-allow.conf'] } }),
  );
  t.equal(allowListed.status, 0);
  t.ok(allowListed.score < unit.score, `IP allow-list lowers it to ${allowListed.score}`);
  // The threshold bites: the same unit without its hardening is refused.
  const plain = unitText.replace(/^# Hardening[\s\S]*?(?=^\[Install\])/m, '');
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ekmd.service'), plain);
  const unhardened = exposure(join(dir, 'ekmd.service'));
  t.not(unhardened.status, 0, `unhardened exposure ${unhardened.score} is refused`);
  t.end();
});
