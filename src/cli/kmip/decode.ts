// `ekmctl kmip decode [--format json|xml] [--hex]`: one binary TTLV message on stdin (raw,
// or hex text with --hex) → its KMIP JSON or XML encoding on stdout. Bad input: one line
// naming the offset and tag, exit 2.
import { readSync } from 'node:fs';
import { EXIT_OK, EXIT_USAGE, UsageError } from '../../util/command';
import { DEFAULT_MAX_BYTES, decodeTtlv } from '../../kmip/ttlv/decode';
import { TtlvError } from '../../kmip/ttlv/error';
import type { TtlvItem } from '../../kmip/ttlv/item';

const USAGE = `Usage: ekmctl kmip decode [--format json|xml] [--hex]

Reads one binary TTLV message on stdin (raw bytes, or hex text with --hex; whitespace
ignored) and prints its KMIP JSON (default) or XML encoding.
`;

export type TextFormat = 'json' | 'xml';

export interface CodecFlags {
  format: TextFormat | undefined;
  hex: boolean;
  help: boolean;
}

/** Flags shared by decode and encode. */
export function parseCodecFlags(argv: string[]): CodecFlags {
  const flags: CodecFlags = { format: undefined, hex: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--format=')
      ? ['--format', arg.slice(9)]
      : [arg, undefined];
    if (name === '--format') {
      const value = inline ?? argv[++i];
      if (value !== 'json' && value !== 'xml') throw new UsageError('--format must be json or xml');
      flags.format = value;
    } else if (name === '--hex') {
      flags.hex = true;
    } else if (name === '--help' || name === '-h') {
      flags.help = true;
    } else {
      throw new UsageError(`unknown option '${arg}'`);
    }
  }
  return flags;
}

/**
 * All of stdin, refusing more than `limit` bytes rather than buffering without end. Read
 * with readSync: this command runs once per message, and a stream costs start-up time.
 */
export async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(65536);
    let n: number;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return readStdinStream(chunks, size, limit); // non-blocking stdin
      if (code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    size += n;
    if (size > limit) throw new TtlvError(`input exceeds ${limit} bytes`, limit);
    chunks.push(chunk.subarray(0, n));
  }
  return Buffer.concat(chunks, size);
}

async function readStdinStream(chunks: Buffer[], size: number, limit: number): Promise<Buffer> {
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new TtlvError(`input exceeds ${limit} bytes`, limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Print a codec error as one line and return the usage exit code. */
export function reportInputError(command: string, err: unknown): number {
  if (!(err instanceof TtlvError)) throw err;
  process.stderr.write(`ekmctl kmip ${command}: ${err.message}\n`);
  return EXIT_USAGE;
}

function fromHex(text: string): Buffer {
  const digits = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) {
    const bad = digits.search(/[^0-9a-fA-F]/);
    throw new TtlvError(
      bad >= 0 ? `not hex: '${digits[bad]}' at hex digit ${bad}` : 'odd number of hex digits',
    );
  }
  return Buffer.from(digits, 'hex');
}

/** Only the chosen encoding is loaded: this command runs once per message in scripts. */
function toText(item: TtlvItem, format: TextFormat): string {
  if (format === 'xml') {
    const { ttlvToXml } = require('../../kmip/ttlv/xml') as typeof import('../../kmip/ttlv/xml');
    return ttlvToXml(item);
  }
  const { ttlvToJson } = require('../../kmip/ttlv/json') as typeof import('../../kmip/ttlv/json');
  return JSON.stringify(ttlvToJson(item), null, 2) + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const flags = parseCodecFlags(argv);
  if (flags.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  try {
    const input = await readStdin(flags.hex ? DEFAULT_MAX_BYTES * 3 : DEFAULT_MAX_BYTES);
    const wire = flags.hex ? fromHex(input.toString('latin1')) : input;
    const item = decodeTtlv(wire);
    process.stdout.write(toText(item, flags.format ?? 'json'));
    return EXIT_OK;
  } catch (err) {
    return reportInputError('decode', err);
  }
}
