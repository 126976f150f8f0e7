#!/usr/bin/env node
// ekmctl: the operator's command line. Subcommands are required lazily so that
// `ekmctl --help` and small commands start in a few tens of milliseconds.
import { dispatch, runMain, type CommandEntry } from './command';

const commands: Record<string, CommandEntry> = {
  status: {
    summary: 'one-screen health summary (exit 0 ok, 1 warning, 2 critical)',
    load: () => require('./api/commands/status'),
  },
  cluster: {
    summary: 'create the cluster, show it',
    load: () => require('./api/commands/cluster'),
  },
  keypair: {
    summary: "create the cluster's KMIP client key pair",
    load: () => require('./api/commands/keypair'),
  },
  csr: {
    summary: "print the cluster's certificate signing request",
    load: () => require('./api/commands/csr'),
  },
  'key-servers': {
    summary: 'KMIP key servers: list, get, create, modify, delete, test',
    load: () => require('./api/commands/key-servers'),
  },
  'key-providers': {
    summary: 'key providers: list, get, create, delete, add-server, remove-server, test',
    load: () => require('./api/commands/key-providers'),
  },
  ear: {
    summary: 'hardware encryption at rest: enable, disable, status',
    load: () => require('./api/commands/ear'),
  },
  sear: {
    summary: 'software encryption at rest: info, rekey the master key',
    load: () => require('./api/commands/sear'),
  },
  drives: {
    summary: 'drives: list, add, remove',
    load: () => require('./api/commands/drives'),
  },
  async: {
    summary: 'results of asynchronous work: get, list',
    load: () => require('./api/commands/async'),
  },
  store: {
    summary: "back up ekmd's store while it runs",
    load: () => require('./api/commands/store'),
  },
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
    '',
    'Commands that use the API connect to ekmd over HTTPS with Basic auth:',
    '  --url URL, --username NAME, --password-file FILE, --ca FILE, --json',
    'or the environment EKMCTL_URL, EKMCTL_USERNAME, EKMCTL_PASSWORD, or the file',
    '~/.config/ekmctl/config.json ({"url","username","password","ca"}; mode 0600',
    'required); else the password is asked on the terminal. A password is never',
    "taken from the command line. Without --ca, ekmd's certificate is pinned by",
    'SHA-256 on first use in ~/.config/ekmctl/pinned-certificates.json; a changed',
    'certificate is refused.',
    '',
    'Exit codes: 0 success, 1 failure, 2 usage error.',
    "  API errors print one line 'xName: message' and exit 1.",
    "  'ekmctl status': 0 ok, 1 warning, 2 critical.",
    '',
  ].join('\n');
}

export { commands };

if (require.main === module)
  runMain('ekmctl', () => dispatch('ekmctl', commands, process.argv.slice(2), usage));
