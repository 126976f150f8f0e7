// `ekmctl --help` is a manual page: every registered command with its summary, the
// global options, where credentials come from, exit codes and examples.
import t from 'tap';
import { commands } from '../../../src/cli/main';
import { ekmctl, operator } from './harness';

t.test('--help lists every command and reads like a manual page', async (t) => {
  const op = operator(t);
  const [help, bare] = await Promise.all([ekmctl(op.env, '--help'), ekmctl(op.env)]);
  t.equal(help.status, 0);
  t.equal(bare.status, 2, 'no command is a usage error');
  t.equal(bare.stdout, help.stdout);
  const text = help.stdout;
  for (const section of [
    'NAME',
    'SYNOPSIS',
    'DESCRIPTION',
    'COMMANDS',
    'GLOBAL OPTIONS',
    'CREDENTIALS',
    'ENVIRONMENT',
    'EXIT STATUS',
    'FILES',
    'EXAMPLES',
  ]) {
    t.match(text, new RegExp(`^${section}\\b`, 'm'), section);
  }
  const names = Object.keys(commands);
  t.ok(names.includes('faults') && names.includes('audit'));
  for (const [name, entry] of Object.entries(commands)) {
    const line = new RegExp(`^  ${name.replace(/-/g, '\\-')} +${escape(entry.summary)}$`, 'm');
    t.match(text, line, `${name} is listed with its summary`);
  }
  for (const flag of ['--url', '--username', '--password-file', '--ca', '--json', '--state-dir']) {
    t.match(text, flag);
  }
  t.match(text, /EKMCTL_URL, EKMCTL_USERNAME, EKMCTL_PASSWORD/);
  t.match(text, /^  0  success$/m);
  t.match(text, /^  2  usage error/m);
  t.match(text, /status, for monitoring: 0 ok, 1 warning, 2 critical/);
  const long = text.split('\n').filter((l) => l.length > 100);
  t.same(long, [], 'lines fit a terminal');
});

t.test('each command answers --help', async (t) => {
  const op = operator(t);
  const runs = await Promise.all(
    ['faults', 'audit', 'status'].map((c) => ekmctl(op.env, c, '--help')),
  );
  for (const r of runs) t.equal(r.status, 0, r.stderr);
  t.match(runs[0].stdout, /^Usage: ekmctl faults <subcommand>/);
  t.match(runs[0].stdout, /list\s+list cluster faults/);
  t.match(runs[1].stdout, /--state-dir DIR/);
  t.match(
    runs[2].stdout,
    /2 critical: ekmd unreachable, a critical or error fault, a failed drive/,
  );
  const list = await ekmctl(op.env, 'faults', 'list', '--help');
  t.match(list.stdout, /--follow/);
  t.match(list.stdout, /connection refused/);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
