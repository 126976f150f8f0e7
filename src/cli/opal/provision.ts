// `ekmctl opal take-ownership|activate|setup-range|set-pw|mbr-done|activate-user|add-user`:
// provisioning steps.
import { UsageError } from '../../util/command';
import { opalCommand, parseLba, parseMode, parseRange, parseUser } from './opal-command';

const done = (what: string) => (r: Record<string, unknown>) => `${r.device as string}: ${what}\n`;

export const takeOwnership = opalCommand({
  name: 'take-ownership',
  synopsis: '--pin-file PATH',
  help: ['Authenticate as SID with the MSID and set the SID PIN to the bytes of --pin-file.'],
  pin: 'required',
  async run({ drive, pin }) {
    await drive.takeOwnership(pin);
    return { device: drive.path };
  },
  text: done('ownership taken (SID PIN set)'),
});

export const activate = opalCommand({
  name: 'activate',
  synopsis: '--pin-file PATH',
  help: ['Activate the Locking SP as SID (--pin-file); Admin1 gets the SID PIN.'],
  pin: 'required',
  async run({ drive, pin }) {
    await drive.activate(pin);
    return { device: drive.path };
  },
  text: done('locking SP activated'),
});

export const setupRange = opalCommand({
  name: 'setup-range',
  synopsis: '--pin-file PATH --range N [--start LBA --length LBAS] [--lock-enable rw|r|w|none]',
  help: [
    'Configure a locking range as Admin1 (--pin-file). Range 0 is the global range and',
    'takes no start/length. --lock-enable sets ReadLockEnabled/WriteLockEnabled (default rw).',
  ],
  options: {
    range: { type: 'string' },
    start: { type: 'string' },
    length: { type: 'string' },
    'lock-enable': { type: 'string' },
  },
  pin: 'required',
  async run({ drive, values, pin }) {
    if (values.range === undefined) throw new UsageError('--range N is required');
    const lr = parseRange(values.range as string);
    const global = lr === 0;
    if (global && (values.start !== undefined || values.length !== undefined))
      throw new UsageError('the global range (0) takes no --start/--length');
    const start = global ? 0n : parseLba('--start', values.start as string | undefined);
    const length = global ? 0n : parseLba('--length', values.length as string | undefined);
    const le = (values['lock-enable'] as string | undefined) ?? 'rw';
    if (!['rw', 'r', 'w', 'none'].includes(le))
      throw new UsageError(`--lock-enable must be rw, r, w or none, got '${le}'`);
    const readLockEnabled = le.includes('r');
    const writeLockEnabled = le.includes('w');
    await drive.setupRanges(pin, [{ lr, start, length, readLockEnabled, writeLockEnabled }]);
    return { device: drive.path, range: lr, start, length, readLockEnabled, writeLockEnabled };
  },
  text: (r) => `${r.device as string}: range ${r.range as number} set up\n`,
});

export const setPw = opalCommand({
  name: 'set-pw',
  synopsis: '--pin-file PATH --new-pin-file PATH [--user WHO] [--target WHO]',
  help: [
    '--user (default admin1) authenticates with --pin-file; --target (default: the same',
    'authority) gets the PIN in --new-pin-file.',
  ],
  options: { user: { type: 'string' }, target: { type: 'string' } },
  pin: 'required',
  newPin: 'required',
  async run({ drive, values, pin, newPin }) {
    const who = parseUser('--user', values.user as string | undefined, 0);
    const target = parseUser('--target', values.target as string | undefined, who);
    await drive.setPin({ who, pin }, target, newPin);
    return { device: drive.path, target: target === 0 ? 'admin1' : `user${target}` };
  },
  text: (r) => `${r.device as string}: PIN of ${r.target as string} changed\n`,
});

export const mbrDone = opalCommand({
  name: 'mbr-done',
  synopsis: '--pin-file PATH [--not-done]',
  help: ['Set MBRDone as Admin1 so the real data shows instead of the shadow MBR.'],
  options: { 'not-done': { type: 'boolean' } },
  pin: 'required',
  async run({ drive, values, pin }) {
    const isDone = values['not-done'] !== true;
    await drive.mbrDone(pin, isDone);
    return { device: drive.path, mbrDone: isDone };
  },
  text: (r) => `${r.device as string}: MBRDone ${r.mbrDone ? 'set' : 'cleared'}\n`,
});

export const activateUser = opalCommand({
  name: 'activate-user',
  synopsis: '--pin-file PATH --user userN',
  help: ['Enable a Locking SP user (Admin1 authenticates with --pin-file).'],
  options: { user: { type: 'string' } },
  pin: 'required',
  async run({ drive, values, pin }) {
    const who = parseUser('--user', values.user as string | undefined, 0);
    if (who === 0) throw new UsageError('--user must name user1..user9');
    await drive.activateUser(pin, who);
    return { device: drive.path, user: `user${who}` };
  },
  text: (r) => `${r.device as string}: ${r.user as string} enabled\n`,
});

export const addUser = opalCommand({
  name: 'add-user',
  synopsis: '--pin-file PATH --user userN --range N [--access rw|ro]',
  help: [
    'Let a user lock and unlock a range (Admin1 authenticates with --pin-file). The kernel',
    'replaces the range ACEs with this user: Admin1 loses lock/unlock on that range.',
  ],
  options: { user: { type: 'string' }, range: { type: 'string' }, access: { type: 'string' } },
  pin: 'required',
  async run({ drive, values, pin }) {
    const who = parseUser('--user', values.user as string | undefined, 0);
    if (who === 0) throw new UsageError('--user must name user1..user9');
    if (values.range === undefined) throw new UsageError('--range N is required');
    const lr = parseRange(values.range as string);
    const access = parseMode('--access', values.access as string | undefined);
    await drive.addUserToRange(pin, who, lr, access);
    return { device: drive.path, user: `user${who}`, range: lr, access };
  },
  text: (r) =>
    `${r.device as string}: ${r.user as string} may unlock range ${r.range as number} ${r.access as string}\n`,
});
