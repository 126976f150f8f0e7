// `ekmd-sim read|write --drive N --lba L`: one 512-byte block as hex on stdout/stdin, as the
// host would see it through the drive (and the DEK layer). A locked block or a missing
// DEK is a one-line reason and exit 1.
import { EXIT_OK, UsageError, type CommandModule } from '../../util/command';
import { BLOCK_SIZE } from '../crypto/xts';
import { call } from './control';
import { SOCKET_OPTION, intFlag, parse, socketPath } from './options';

const FLAGS = { ...SOCKET_OPTION, drive: { type: 'string' }, lba: { type: 'string' } } as const;

async function stdinText(limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new UsageError(`stdin holds more than one block of hex`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export const read: CommandModule = {
  async run(argv) {
    const { values } = parse(argv, FLAGS);
    if (values.help) {
      process.stdout.write('Usage: ekmd-sim read --drive N --lba L [--socket PATH]\n');
      return EXIT_OK;
    }
    const drive = intFlag('drive', values.drive, true);
    const lba = intFlag('lba', values.lba, true);
    const r = await call('read', socketPath(values.socket), { op: 'read', drive, lba });
    if (!r) return 1;
    process.stdout.write(`${r.payload.toString('hex')}\n`);
    r.payload.fill(0);
    return EXIT_OK;
  },
};

export const write: CommandModule = {
  async run(argv) {
    const { values } = parse(argv, FLAGS);
    if (values.help) {
      process.stdout.write(
        'Usage: ekmd-sim write --drive N --lba L [--socket PATH] < block.hex\n\n' +
          `Writes exactly one ${BLOCK_SIZE}-byte block given as hex on stdin.\n`,
      );
      return EXIT_OK;
    }
    const drive = intFlag('drive', values.drive, true);
    const lba = intFlag('lba', values.lba, true);
    const hex = (await stdinText(BLOCK_SIZE * 4)).replace(/\s+/g, '');
    if (hex.length !== BLOCK_SIZE * 2 || !/^[0-9a-fA-F]*$/.test(hex))
      throw new UsageError(`stdin must hold exactly ${BLOCK_SIZE} bytes as hex`);
    const block = Buffer.from(hex, 'hex');
    const r = await call('write', socketPath(values.socket), { op: 'write', drive, lba }, block);
    block.fill(0);
    return r ? EXIT_OK : 1;
  },
};
