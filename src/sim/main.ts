#!/usr/bin/env node
// ekmd-sim: simulated Opal drives for tests and the embedded default.
import { dispatch, runMain, type CommandEntry } from '../util/command';

const commands: Record<string, CommandEntry> = {
  serve: { summary: 'simulate N drives on a Unix socket', load: () => require('./commands/serve') },
  status: {
    summary: 'drives: lock state, Tries, Locking SP, DEK (--json)',
    load: () => require('./commands/status'),
  },
  'power-cycle': {
    summary: 'cut and restore power (relock)',
    load: () => require('./commands/control').event('power-cycle'),
  },
  'suspend-resume': {
    summary: 'suspend to RAM and resume (saved unlocks replay)',
    load: () => require('./commands/control').event('suspend-resume'),
  },
  unplug: {
    summary: 'hot-remove a drive',
    load: () => require('./commands/control').event('unplug'),
  },
  plug: { summary: 'hot-add a drive', load: () => require('./commands/control').event('plug') },
  inject: {
    summary: 'fault: io-error, slow, non-opal, clear',
    load: () => require('./commands/control').inject,
  },
  read: { summary: 'one block as hex on stdout', load: () => require('./commands/block-io').read },
  write: {
    summary: 'one block as hex from stdin',
    load: () => require('./commands/block-io').write,
  },
  label: {
    summary: "the drive's label: serial, model, PSID",
    load: () => require('./commands/label'),
  },
};

function usage(): string {
  return [
    'Usage: ekmd-sim <command> [options]',
    '',
    'Simulates self-encrypting (TCG Opal) drives behind the kernel sed-opal ABI, over a',
    'loopback Unix socket. Test equipment: never used on a production node.',
    'Every command takes --socket PATH (default $EKMD_SIM_SOCKET); drives are numbered from 0.',
    '',
    'Commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(14)}  ${c.summary}`),
    '',
    'Exit codes: 0 success, 1 failure, 2 usage error.',
    '',
  ].join('\n');
}

if (require.main === module)
  runMain('ekmd-sim', () => dispatch('ekmd-sim', commands, process.argv.slice(2), usage));
