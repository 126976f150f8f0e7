// `ekmctl store backup FILE`: a consistent copy of ekmd's store while ekmd runs (SQLite
// online backup from a read-only connection), written 0600, never over an existing file.
import { join } from 'node:path';
import { EXIT_OK } from '../../util/command';
import { openSqliteStore, STORE_FILE } from '../../store';
import { runGroup, type Subcommand } from './subcommand';
import { json } from '../client/output';

export const DEFAULT_STATE_DIR = '/var/lib/ekmd';

const backup: Subcommand = {
  summary: "copy ekmd's store to FILE (0600), online",
  args: ['FILE'],
  offline: true,
  flags: {
    state: {
      type: 'string',
      help: `--state DIR      ekmd's stateDir (default ${DEFAULT_STATE_DIR})`,
    },
    json: { type: 'boolean', help: '--json           machine-readable output' },
  },
  details: [
    'The copy holds sealed secrets only; restoring it needs the same sealing root',
    '(stateDir/seal.key or the systemd credential). To restore: stop ekmd, move',
    'stateDir/ekmd.db and its -wal and -shm files aside, copy the backup to',
    'stateDir/ekmd.db (owner ekmd, mode 0600), start ekmd.',
  ],
  async run(ctx) {
    const dest = ctx.args[0];
    const source = join(ctx.string('state') ?? DEFAULT_STATE_DIR, STORE_FILE);
    const store = openSqliteStore(source, { readonly: true });
    try {
      store.backup(dest);
    } finally {
      await store.close();
    }
    ctx.out(ctx.json ? json({ source, backup: dest }) : `backed up ${source} to ${dest}\n`);
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup('store', "ekmd's state store (offline: reads stateDir directly).", { backup }, argv);
