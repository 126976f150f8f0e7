#!/usr/bin/env node
// ekmd: the daemon. Option parsing only here; the boot sequence is loaded on demand.
import { parseArgs } from 'node:util';
import { runMain, EXIT_USAGE } from '../cli/command';

const USAGE = `Usage: ekmd [--config FILE]

Runs the encryption-at-rest key daemon of a storage node.
  --config FILE   JSON configuration (see README, "Configuration")
  --help          this text
`;

async function main(argv: string[]): Promise<number> {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`ekmd: ${(err as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  process.stderr.write(
    'ekmd: the daemon is not built yet; today this command only validates its options.\n',
  );
  return 1;
}

if (require.main === module) runMain('ekmd', () => main(process.argv.slice(2)));
