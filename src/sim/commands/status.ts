// `ekmd-sim status [--json]`: per drive serial, mode, lock state, Tries, Locking SP state
// and DEK attachment. Never a PIN or a key: the simulator does not send any.
import { EXIT_OK } from '../../util/command';
import type { DriveStatus } from '../drive/sim-drive';
import { call } from './control';
import { SOCKET_OPTION, parse, socketPath } from './options';

function line(d: DriveStatus): string {
  const state = !d.plugged ? 'unplugged' : d.locked ? 'locked' : 'unlocked';
  return [
    String(d.index).padStart(2),
    d.serial,
    d.mode.padEnd(5),
    state.padEnd(9),
    `lsp=${d.lsp}`,
    `tries=${d.tries.admin1}`,
    `dek=${d.dek}`,
    ...(d.faults.ioError ? ['fault=io-error'] : []),
    ...(d.faults.slowMs ? [`fault=slow:${d.faults.slowMs}ms`] : []),
    ...(d.faults.nonOpal ? ['fault=non-opal'] : []),
  ].join('  ');
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...SOCKET_OPTION, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write('Usage: ekmd-sim status [--json] [--socket PATH]\n');
    return EXIT_OK;
  }
  const r = await call('status', socketPath(values.socket), { op: 'status' });
  if (!r) return 1;
  const drives = r.header.drives as DriveStatus[];
  if (values.json) process.stdout.write(`${JSON.stringify({ drives }, null, 2)}\n`);
  else process.stdout.write(drives.map(line).join('\n') + '\n');
  return EXIT_OK;
}
