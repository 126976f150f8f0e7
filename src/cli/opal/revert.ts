// `ekmctl opal revert|psid-revert`: back to factory state; every byte on the drive is lost.
import { UsageError } from '../../util/command';
import { opalCommand, type Values } from './opal-command';

const CONFIRM = { 'yes-erase-all-data': { type: 'boolean' } } as const;

function confirmed(values: Values): void {
  if (values['yes-erase-all-data'] !== true)
    throw new UsageError('this erases the whole drive; add --yes-erase-all-data to proceed');
}

export const revert = opalCommand({
  name: 'revert',
  synopsis: '--pin-file PATH --yes-erase-all-data',
  help: ['RevertTPer as SID (--pin-file): factory state, all data unreadable.'],
  options: CONFIRM,
  pin: 'required',
  async run({ drive, values, pin }) {
    confirmed(values);
    await drive.revertTper(pin);
    return { device: drive.path };
  },
  text: (r) => `${r.device as string}: reverted to factory state\n`,
});

export const psidRevert = opalCommand({
  name: 'psid-revert',
  synopsis: '--pin-file PATH --yes-erase-all-data',
  help: [
    'RevertTPer with the PSID printed on the drive label (--pin-file): the recovery when',
    'the SID PIN is lost. Factory state, all data unreadable.',
  ],
  options: CONFIRM,
  pin: 'required',
  async run({ drive, values, pin }) {
    confirmed(values);
    await drive.psidRevert(pin);
    return { device: drive.path };
  },
  text: (r) => `${r.device as string}: reverted to factory state with the PSID\n`,
});
