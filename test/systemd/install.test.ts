import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths';
import { promtool } from '../monitoring/monitoring-files';

const script = join(repoRoot, 'scripts/install.sh');
const exampleConfig = join(repoRoot, 'systemd/ekmd.example.json');
const sysusersConf = join(repoRoot, 'systemd/ekmd.sysusers.conf');
const asRoot = process.getuid?.() === 0;
const hasSysusers = !spawnSync('systemd-sysusers', ['--version']).error;

const install = (...args: string[]) => spawnSync('bash', [script, ...args], { encoding: 'utf8' });

/** install.sh in the background, so that independent installs overlap their disk waits. */
function installInBackground(
  ...args: string[]
): Promise<{ status: number | null; stderr: string }> {
  const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr })));
}

function tempRoot(t: tap.Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-install-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The ekmd user's ids in a staged root's passwd and group files. */
function ekmdIds(root: string): { uid: number; gid: number } | undefined {
  const id = (file: string) => {
    const path = join(root, 'etc', file);
    if (!existsSync(path)) return undefined;
    const line = readFileSync(path, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('ekmd:'));
    return line === undefined ? undefined : Number(line.split(':')[2]);
  };
  const uid = id('passwd');
  const gid = id('group');
  return uid === undefined || gid === undefined ? undefined : { uid, gid };
}

const mode = (path: string) => (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');

/** Every runbook_url of an installed rules file. */
const runbookUrls = (rules: string) =>
  [...readFileSync(rules, 'utf8').matchAll(/^ +runbook_url: (\S+)$/gm)].map((m) => m[1]!);

// Each staged install writes about 2,000 files, so the tests share as few as they can, and
// the one with another prefix runs alongside the others.
const prefixedRoot = tempRoot(t);
const siteConfig = join(tempRoot(t), 'site.json');
writeFileSync(siteConfig, '{"stateDir":"/var/lib/ekmd","drives":{"backend":"ioctl"}}\n');
const prefixed = installInBackground(
  '--root',
  prefixedRoot,
  '--prefix',
  '/opt/ekmd',
  '--node',
  '/opt/node/bin/node',
  '--config',
  siteConfig,
);

t.test(
  'a staged install lays out code, unit, config and state; a reinstall keeps the config',
  async (t) => {
    const root = tempRoot(t);
    const r = install('--root', root);
    t.equal(r.status, 0, r.stderr);

    const lib = join(root, 'usr/lib/ekmd');
    const main = join(lib, 'dist/src/daemon/main.js');
    t.equal(mode(main), '0755', 'daemon entry point is executable');
    t.equal(mode(join(lib, 'package.json')), '0644');
    t.equal(mode(lib), '0755');
    t.ok(existsSync(join(lib, 'README.md')), 'README for the unit Documentation=');
    t.ok(existsSync(join(lib, 'docs')), "docs/ beside it: the README's links resolve");
    t.same(
      readdirSync(join(lib, 'dist')),
      ['src'],
      'only what runs on a node: no scripts/, no tests',
    );
    t.same(
      readdirSync(join(lib, 'systemd')).sort(),
      ['ip-allow.conf.example', 'seal-credential.conf.example'],
      'drop-in examples beside the code',
    );
    for (const dev of ['tap', 'typescript', 'prettier']) {
      t.notOk(existsSync(join(lib, 'node_modules', dev)), `no dev dependency ${dev}`);
    }
    t.notOk(existsSync(join(lib, 'dist/test')), 'no compiled tests');

    // Monitoring beside the code: the rules link to the runbook installed with them.
    t.same(readdirSync(join(lib, 'monitoring')).sort(), ['ekmd-dashboard.json', 'ekmd.rules.yml']);
    t.ok(existsSync(join(lib, 'docs/ALERTS.md')), 'the runbook');
    const rules = join(lib, 'monitoring/ekmd.rules.yml');
    t.equal(mode(rules), '0644');
    const urls = runbookUrls(rules);
    t.ok(urls.length > 0);
    t.ok(
      urls.every((u) => u.startsWith('file:/usr/lib/ekmd/docs/ALERTS.md#')),
      'runbook links to the installed runbook',
    );
    const check = await promtool('check', 'rules', rules);
    t.equal(check.status, 0, check.output);
    t.notOk(existsSync(join(lib, 'node_modules/better-sqlite3/deps')), 'no addon C sources');
    t.same(
      readdirSync(join(root, 'usr/lib')).filter((f) => f !== 'ekmd'),
      [],
      'no staging leftovers',
    );
    t.equal(readlinkSync(join(root, 'usr/bin/ekmctl')), '../lib/ekmd/dist/src/cli/main.js');

    // The installed tree runs on its own: bins start and the native addons load from it.
    const run = (...args: string[]) =>
      spawnSync(process.execPath, args, { encoding: 'utf8', cwd: root });
    t.match(run(join(root, 'usr/bin/ekmctl'), '--help').stdout, /SYNOPSIS\n +ekmctl <command>/);
    t.match(run(main, '--help').stdout, /Usage: ekmd/);
    const deps = run(
      '-e',
      `const lib = ${JSON.stringify(join(lib, 'node_modules'))};
     const Database = require(lib + '/better-sqlite3');
     const koffi = require(lib + '/koffi');
     for (const m of ['pino', 'ajv', 'node-forge', 'prom-client']) require(lib + '/' + m);
     console.log(new Database(':memory:').prepare('select 6 * 7 as x').get().x,
       typeof koffi.load('libc.so.6').func('int getpid()')());`,
    );
    t.equal(deps.stdout.trim(), '42 number', deps.stderr);

    const unit = join(root, 'etc/systemd/system/ekmd.service');
    t.equal(mode(unit), '0644');
    const execStart = /^ExecStart=(\S+) (\S+) --config (\S+)$/m.exec(readFileSync(unit, 'utf8'));
    t.ok(execStart, 'unit has an ExecStart');
    t.equal(execStart?.[1], '/usr/bin/node');
    t.equal(execStart?.[2], '/usr/lib/ekmd/dist/src/daemon/main.js');
    t.ok(
      existsSync(join(root, execStart?.[2] ?? '-')),
      'ExecStart names the installed entry point',
    );
    t.equal(execStart?.[3], '/etc/ekmd/ekmd.json');

    const config = join(root, 'etc/ekmd/ekmd.json');
    const state = join(root, 'var/lib/ekmd');
    t.equal(mode(join(root, 'etc/ekmd')), '0750');
    t.equal(mode(config), '0640', "readable by ekmd's group, nobody else");
    t.equal(readFileSync(config, 'utf8'), readFileSync(exampleConfig, 'utf8'), 'the example');
    t.same(readdirSync(join(root, 'etc/ekmd')), ['ekmd.json'], 'no temp files left');
    t.equal(mode(state), '0700');
    const sysusers = join(root, 'etc/sysusers.d/ekmd.conf');
    t.equal(readFileSync(sysusers, 'utf8'), readFileSync(sysusersConf, 'utf8'));
    t.equal(mode(sysusers), '0644');
    t.match(readFileSync(sysusersConf, 'utf8'), /^u\s+ekmd\s+-\s+"[^"]+"\s+\/var\/lib\/ekmd$/m);

    const ekmd = ekmdIds(root);
    if (asRoot && hasSysusers) {
      t.ok(ekmd, 'the ekmd user was made in the staged root');
      for (const p of [main, lib, unit, sysusers]) {
        const s = lstatSync(p);
        t.same([s.uid, s.gid], [0, 0], `root:root ${p.slice(root.length)}`);
      }
      for (const p of [join(root, 'etc/ekmd'), config]) {
        const s = lstatSync(p);
        t.same([s.uid, s.gid], [0, ekmd?.gid], `root:ekmd ${p.slice(root.length)}`);
      }
      const s = lstatSync(state);
      t.same([s.uid, s.gid], [ekmd?.uid, ekmd?.gid], 'ekmd:ekmd /var/lib/ekmd');
    } else {
      t.match(r.stdout, /not root/, 'says owners are not root:root');
    }

    // What a root-run ekmd left, and an operator's config and key as root made them.
    const edited = '{"edited":true}\n';
    writeFileSync(config, edited, { mode: 0o600 });
    chmodSync(config, 0o604);
    writeFileSync(join(root, 'etc/ekmd/api.key'), 'key', { mode: 0o600 });
    writeFileSync(join(state, 'seal.key'), Buffer.alloc(32), { mode: 0o600 });
    writeFileSync(join(lib, 'stale.js'), '');
    const again = install('--root', root, '--runbook-base', 'https://wiki.example/ekmd/docs/');
    t.equal(again.status, 0, again.stderr);
    t.same(
      runbookUrls(rules).map((u) => u.replace('https://wiki.example/ekmd/docs/ALERTS.md#', '')),
      urls.map((u) => u.replace('file:/usr/lib/ekmd/docs/ALERTS.md#', '')),
      '--runbook-base: the same anchors at the given base',
    );
    t.equal(readFileSync(config, 'utf8'), edited, 'an edited config is kept');
    t.equal(mode(config), '0640', 'group-readable, no longer readable by others');
    t.equal(mode(join(root, 'etc/ekmd/api.key')), '0640');
    t.equal(mode(join(state, 'seal.key')), '0600');
    if (asRoot && hasSysusers) {
      t.equal(lstatSync(join(root, 'etc/ekmd/api.key')).gid, ekmd?.gid, 'api.key: group ekmd');
      const s = lstatSync(join(state, 'seal.key'));
      t.same([s.uid, s.gid], [ekmd?.uid, ekmd?.gid], "root's state handed over to ekmd");
    }
    t.notOk(existsSync(join(lib, 'stale.js')), 'the old code tree is replaced');
    t.ok(existsSync(main));
  },
);

t.test('--prefix, --node and --config are carried through', async (t) => {
  const root = prefixedRoot;
  const r = await prefixed;
  t.equal(r.status, 0, r.stderr);
  const unit = readFileSync(join(root, 'etc/systemd/system/ekmd.service'), 'utf8');
  t.match(
    unit,
    /^ExecStart=\/opt\/node\/bin\/node \/opt\/ekmd\/lib\/ekmd\/dist\/src\/daemon\/main\.js --config/m,
  );
  t.match(unit, /^Documentation=file:\/opt\/ekmd\/lib\/ekmd\/README\.md$/m);
  t.notMatch(unit, /\/usr\/lib\/ekmd/, 'no path left pointing at the default layout');
  const urls = runbookUrls(join(root, 'opt/ekmd/lib/ekmd/monitoring/ekmd.rules.yml'));
  t.ok(
    urls.length > 0 && urls.every((u) => u.startsWith('file:/opt/ekmd/lib/ekmd/docs/ALERTS.md#')),
    'runbook links follow the prefix',
  );
  t.ok(existsSync(join(root, 'opt/ekmd/lib/ekmd/dist/src/daemon/main.js')));
  t.ok(existsSync(join(root, 'opt/ekmd/bin/ekmctl')));
  t.equal(readFileSync(join(root, 'etc/ekmd/ekmd.json'), 'utf8'), readFileSync(siteConfig, 'utf8'));
});

t.test('bad arguments are refused before anything is written', async (t) => {
  const root = tempRoot(t);
  const cases: [string[], number, RegExp][] = [
    [['--bogus'], 2, /unknown option '--bogus'/],
    [['--root'], 2, /--root needs a value/],
    [['--root', 'relative/dir'], 1, /not a plain absolute path/],
    [['--root', root, '--prefix', '/opt/my ekmd'], 1, /not a plain absolute path/],
    [['--root', root, '--config', join(root, 'missing.json')], 1, /config example not found/],
    [['--root', root, '--runbook-base', 'wiki page'], 1, /--runbook-base must be a URL/],
    [['--root', root, '--runbook-base', 'https://a|b'], 1, /--runbook-base must be a URL/],
  ];
  for (const [args, status, message] of cases) {
    const r = install(...args);
    t.equal(r.status, status, args.join(' '));
    t.match(r.stderr, message);
  }
  t.same(readdirSync(root), [], 'nothing written');
});
