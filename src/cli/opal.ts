// `ekmctl opal …`: direct drive operations for recovery (like sedutil-cli). Owned by the
// Opal layer; subcommands live in ./opal/.
import { dispatch, type CommandEntry } from './command';

const commands: Record<string, CommandEntry> = {};

function usage(): string {
  return [
    'Usage: ekmctl opal <command> --device PATH | --sim SOCKET --drive N [options]',
    '',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(14)}  ${c.summary}`),
    '',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  return dispatch('ekmctl opal', commands, argv, usage);
}
