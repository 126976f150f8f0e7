// `ekmctl opal …`: direct drive operations for recovery (like sedutil-cli). Owned by the
// Opal layer; subcommands live in ./opal/.
import { dispatch, type CommandEntry } from '../util/command';

const commands: Record<string, CommandEntry> = {
  status: { summary: 'GET_STATUS flags (no PIN)', load: () => require('./opal/status').status },
  discover: {
    summary: 'Level 0 discovery features (no PIN)',
    load: () => require('./opal/status').discover,
  },
  unlock: {
    summary: 'unlock a range and verify it (--pin-file, or --kmip-uid: AK from the EKS)',
    load: () => require('./opal/lock').unlock,
  },
  lock: { summary: 'lock a range', load: () => require('./opal/lock').lock },
  save: {
    summary: 'have the kernel re-unlock a range on resume',
    load: () => require('./opal/lock').save,
  },
  'take-ownership': {
    summary: 'set the SID PIN (from MSID)',
    load: () => require('./opal/provision').takeOwnership,
  },
  activate: {
    summary: 'activate the Locking SP as SID',
    load: () => require('./opal/provision').activate,
  },
  'setup-range': {
    summary: 'configure a locking range as Admin1',
    load: () => require('./opal/provision').setupRange,
  },
  'set-pw': { summary: 'change an authority PIN', load: () => require('./opal/provision').setPw },
  'activate-user': {
    summary: 'enable a user (user1..user9) as Admin1',
    load: () => require('./opal/provision').activateUser,
  },
  'add-user': {
    summary: 'let a user lock/unlock a range',
    load: () => require('./opal/provision').addUser,
  },
  'mbr-done': {
    summary: 'set MBRDone as Admin1',
    load: () => require('./opal/provision').mbrDone,
  },
  revert: {
    summary: 'RevertTPer as SID (erases everything)',
    load: () => require('./opal/revert').revert,
  },
  'psid-revert': {
    summary: 'RevertTPer with the PSID (erases everything)',
    load: () => require('./opal/revert').psidRevert,
  },
};

function usage(): string {
  return [
    'Usage: ekmctl opal <command> --device PATH | --sim SOCKET --drive N [options]',
    '',
    'Direct TCG Opal operations for recovery. PINs come from --pin-file PATH (or - for',
    'stdin), never from the command line; each command makes one attempt and never',
    'retries a PIN. --json prints one JSON object.',
    '',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(14)}  ${c.summary}`),
    '',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  return dispatch('ekmctl opal', commands, argv, usage);
}
