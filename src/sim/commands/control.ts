// Enclosure events and fault injection: `ekmd-sim power-cycle|suspend-resume|unplug|plug
// [--drive N]` (every drive when omitted) and `ekmd-sim inject --drive N FAULT`.
import { EXIT_OK, UsageError, type CommandModule } from '../../util/command';
import { SimConnection } from '../../opal/sim-socket/connection';
import { SOCKET_OPTION, intFlag, parse, socketPath } from './options';

const EVENTS = {
  'power-cycle': 'cut and restore power: ranges relock per LockOnReset, Tries reset',
  'suspend-resume': 'suspend to RAM and resume: power cycle, then the saved unlocks replay',
  unplug: 'hot-remove the drive',
  plug: 'hot-add the drive (it comes back locked)',
} as const;

export type EnclosureEvent = keyof typeof EVENTS;

/** Send one request; print the simulator's error as one line and exit 1 on failure. */
export async function call(
  prog: string,
  path: string,
  header: Record<string, unknown>,
  payload?: Buffer,
) {
  const conn = new SimConnection(path);
  try {
    return await conn.request(header, payload);
  } catch (err) {
    process.stderr.write(`ekmd-sim ${prog}: ${(err as Error).message}\n`);
    return null;
  } finally {
    await conn.close();
  }
}

export function event(name: EnclosureEvent): CommandModule {
  return {
    async run(argv) {
      const { values } = parse(argv, { ...SOCKET_OPTION, drive: { type: 'string' } });
      if (values.help) {
        process.stdout.write(
          `Usage: ekmd-sim ${name} [--drive N] [--socket PATH]\n\n${EVENTS[name]}; every drive when --drive is omitted.\n`,
        );
        return EXIT_OK;
      }
      const drive = intFlag('drive', values.drive);
      const r = await call(name, socketPath(values.socket), { op: name, drive });
      return r ? EXIT_OK : 1;
    },
  };
}

const FAULTS = ['io-error', 'slow', 'non-opal', 'clear'];

export const inject: CommandModule = {
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { ...SOCKET_OPTION, drive: { type: 'string' }, ms: { type: 'string' } },
      1,
    );
    if (values.help) {
      process.stdout.write(
        'Usage: ekmd-sim inject --drive N io-error|slow|non-opal|clear [--ms N] [--socket PATH]\n\n' +
          'io-error: media and ioctls fail with EIO; slow: each ioctl answers after --ms\n' +
          '(default 2000); non-opal: Opal ioctls answer EOPNOTSUPP; clear: no faults.\n',
      );
      return EXIT_OK;
    }
    const fault = positionals[0];
    if (!fault || !FAULTS.includes(fault))
      throw new UsageError(`a fault is required: ${FAULTS.join(', ')}`);
    const drive = intFlag('drive', values.drive, true);
    const ms = intFlag('ms', values.ms);
    const r = await call('inject', socketPath(values.socket), { op: 'inject', drive, fault, ms });
    return r ? EXIT_OK : 1;
  },
};
