// `ekmd-sim label --drive N`: what is printed on the drive's label (serial, model, PSID),
// as an operator would read it off the hardware for a PSID revert.
import { EXIT_OK } from '../../util/command';
import { call } from './control';
import { SOCKET_OPTION, intFlag, parse, socketPath } from './options';

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...SOCKET_OPTION, drive: { type: 'string' } });
  if (values.help) {
    process.stdout.write('Usage: ekmd-sim label --drive N [--socket PATH]\n');
    return EXIT_OK;
  }
  const drive = intFlag('drive', values.drive, true);
  const r = await call('label', socketPath(values.socket), { op: 'label', drive });
  if (!r) return 1;
  const { serial, model, psid } = r.header as Record<string, string>;
  process.stdout.write(`serial ${serial}\nmodel  ${model}\npsid   ${psid}\n`);
  return EXIT_OK;
}
