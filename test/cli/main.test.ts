import t from 'tap';
import { spawnSync } from 'node:child_process';
import { bin } from '../helpers/paths';

const ekmctl = (...args: string[]) =>
  spawnSync(process.execPath, [bin.ekmctl, ...args], { encoding: 'utf8' });

t.test('--help prints usage and exits 0', async (t) => {
  const r = ekmctl('--help');
  t.equal(r.status, 0);
  t.match(r.stdout, /^NAME\n/);
  t.match(r.stdout, /\nSYNOPSIS\n +ekmctl <command>/);
  t.match(r.stdout, /\nEXIT STATUS\n/);
});

t.test('no command prints usage and exits 2', async (t) => {
  const r = ekmctl();
  t.equal(r.status, 2);
  t.match(r.stdout, /SYNOPSIS\n +ekmctl <command>/);
});

t.test('an unknown command is a usage error (exit 2, one line on stderr)', async (t) => {
  const r = ekmctl('no-such-command');
  t.equal(r.status, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^ekmctl: unknown command 'no-such-command'/);
  t.equal(r.stderr.trim().split('\n').length, 1);
});

t.test('version prints the package version', async (t) => {
  const r = ekmctl('version');
  t.equal(r.status, 0);
  t.match(r.stdout, /^ekmd \d+\.\d+\.\d+\n$/);
});

t.test('inherited prototype names are not commands', async (t) => {
  const r = ekmctl('constructor');
  t.equal(r.status, 2);
});
