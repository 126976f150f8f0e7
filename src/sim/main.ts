#!/usr/bin/env node
// ekmd-sim: simulated Opal drives for tests and the embedded default.
import { dispatch, runMain, type CommandEntry } from '../cli/command';

const commands: Record<string, CommandEntry> = {};

function usage(): string {
  return [
    'Usage: ekmd-sim <command> [options]',
    '',
    'Simulates self-encrypting (TCG Opal) drives behind the kernel sed-opal ABI, over a',
    'loopback Unix socket. Test equipment: never used on a production node.',
    '',
    'Commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(14)}  ${c.summary}`),
    '',
  ].join('\n');
}

if (require.main === module)
  runMain('ekmd-sim', () => dispatch('ekmd-sim', commands, process.argv.slice(2), usage));
