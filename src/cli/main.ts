#!/usr/bin/env node
// ekmctl: the operator's command line. Subcommands are required lazily so that
// `ekmctl --help` and small commands start in a few tens of milliseconds.
import { dispatch, runMain, type CommandEntry } from './command';

const commands: Record<string, CommandEntry> = {
  kmip: {
    summary: 'KMIP tools: decode/encode TTLV, probe a key server, dev key server',
    load: () => require('./kmip'),
  },
  opal: {
    summary: 'TCG Opal drive operations for recovery (one attempt per PIN)',
    load: () => require('./opal'),
  },
  version: {
    summary: 'print the ekmd version',
    load: () => require('./version-command'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
  );
  return [
    'Usage: ekmctl <command> [options]',
    '',
    'Operate ekmd, the encryption-at-rest key daemon of a storage node.',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'ekmctl <command> --help' for a command's options.",
    'Exit codes: 0 success, 1 failure, 2 usage error.',
    '',
  ].join('\n');
}

export { commands };

if (require.main === module)
  runMain('ekmctl', () => dispatch('ekmctl', commands, process.argv.slice(2), usage));
