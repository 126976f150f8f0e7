// `ekmctl opal unlock|lock|save`: one LOCK_UNLOCK (or SAVE) attempt with one PIN.
import { opalCommand, parseMode, parseRange, parseUser } from './opal-command';
import { KMIP_PIN_HELP, KMIP_PIN_OPTIONS, fetchKmipPin } from './kmip-pin';

const RANGE_USER = {
  user: { type: 'string' },
  range: { type: 'string' },
} as const;

const WHO_HELP =
  '--user admin1|user1..user9 authenticates (default admin1); --range 0..8 (default 0).';

export const unlock = opalCommand({
  name: 'unlock',
  synopsis: '(--pin-file PATH | --kmip-uid UID …) [--user WHO] [--range N] [--mode rw|ro]',
  help: [
    'Unlock a locking range, then re-read its state to confirm. One attempt: a wrong PIN',
    'is reported (NOT_AUTHORIZED) and never retried.',
    WHO_HELP,
    ...KMIP_PIN_HELP,
  ],
  options: { ...RANGE_USER, mode: { type: 'string' }, ...KMIP_PIN_OPTIONS },
  pin: 'required',
  pinFrom: { flag: 'kmip-uid', fetch: fetchKmipPin },
  async run({ drive, values, pin }) {
    const who = parseUser('--user', values.user as string | undefined, 0);
    const lr = parseRange(values.range as string | undefined);
    const mode = parseMode('--mode', values.mode as string | undefined);
    const r = await drive.unlock({ who, pin }, lr, mode);
    const uid = values['kmip-uid'] as string | undefined;
    return {
      device: drive.path,
      range: lr,
      mode,
      verifiedBy: r.verifiedBy,
      ...(uid !== undefined ? { kmipUID: uid } : {}),
    };
  },
  text: (r) =>
    `${r.device as string}: range ${r.range as number} unlocked ${r.mode as string} (verified by ${r.verifiedBy as string})${r.kmipUID ? ` with key ${r.kmipUID as string} from the key server` : ''}\n`,
});

export const lock = opalCommand({
  name: 'lock',
  synopsis: '--pin-file PATH [--user WHO] [--range N]',
  help: ['Lock a locking range for reading and writing.', WHO_HELP],
  options: RANGE_USER,
  pin: 'required',
  async run({ drive, values, pin }) {
    const who = parseUser('--user', values.user as string | undefined, 0);
    const lr = parseRange(values.range as string | undefined);
    await drive.lock({ who, pin }, lr);
    return { device: drive.path, range: lr, mode: 'locked' };
  },
  text: (r) => `${r.device as string}: range ${r.range as number} locked\n`,
});

export const save = opalCommand({
  name: 'save',
  synopsis: '--pin-file PATH [--user WHO] [--range N] [--mode rw|ro] [--for-lock]',
  help: [
    'IOC_OPAL_SAVE: the kernel keeps this unlock and replays it on resume from suspend.',
    '--for-lock (kernel 6.4+) also allows a later lock without a PIN.',
    WHO_HELP,
  ],
  options: { ...RANGE_USER, mode: { type: 'string' }, 'for-lock': { type: 'boolean' } },
  pin: 'required',
  async run({ drive, values, pin }) {
    const who = parseUser('--user', values.user as string | undefined, 0);
    const lr = parseRange(values.range as string | undefined);
    const mode = parseMode('--mode', values.mode as string | undefined);
    const forLock = values['for-lock'] === true;
    await drive.save({ who, pin }, lr, mode, { forLock });
    return { device: drive.path, range: lr, mode, forLock };
  },
  text: (r) => `${r.device as string}: unlock of range ${r.range as number} saved for resume\n`,
});
