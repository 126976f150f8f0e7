#!/usr/bin/env node
// ekmctl: the operator's command line. Subcommands are required lazily so that
// `ekmctl --help` and small commands start in a few tens of milliseconds.
import { dispatch, runMain, type CommandEntry } from '../util/command';
import { manualPage } from './help';

const commands: Record<string, CommandEntry> = {
  status: {
    summary: 'one-screen health summary (exit 0 ok, 1 warning, 2 critical)',
    load: () => require('./commands/status'),
  },
  cluster: {
    summary: 'create the cluster, show it',
    load: () => require('./commands/cluster'),
  },
  keypair: {
    summary: "create the cluster's KMIP client key pair",
    load: () => require('./commands/keypair'),
  },
  csr: {
    summary: "print the cluster's certificate signing request",
    load: () => require('./commands/csr'),
  },
  'key-servers': {
    summary: 'KMIP key servers: list, get, create, modify, delete, test',
    load: () => require('./commands/key-servers'),
  },
  'key-providers': {
    summary: 'key providers: list, get, create, delete, add-server, remove-server, test',
    load: () => require('./commands/key-providers'),
  },
  ear: {
    summary: 'hardware encryption at rest: enable, disable, status',
    load: () => require('./commands/ear'),
  },
  sear: {
    summary: 'software encryption at rest: info, rekey the master key',
    load: () => require('./commands/sear'),
  },
  drives: {
    summary: 'drives: list, add, remove',
    load: () => require('./commands/drives'),
  },
  nodes: {
    summary: "the cluster's nodes: list, add, remove",
    load: () => require('./commands/nodes'),
  },
  async: {
    summary: 'results of asynchronous work: get, list',
    load: () => require('./commands/async'),
  },
  faults: {
    summary: 'cluster faults: list (also offline, --follow), clear',
    load: () => require('./commands/faults'),
  },
  audit: {
    summary: 'audit log of security operations and failed logins (reads the store)',
    load: () => require('./commands/audit'),
  },
  store: {
    summary: "back up ekmd's store while it runs; restore a snapshot into an empty store",
    load: () => require('./commands/store'),
  },
  recover: {
    summary: 'disaster recovery: rebuild the drive → key map from the key server',
    load: () => require('./commands/recover'),
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

const usage = () => manualPage(commands);

export { commands };

if (require.main === module)
  runMain('ekmctl', () => dispatch('ekmctl', commands, process.argv.slice(2), usage));
