// PINs for `ekmctl opal`: raw bytes from a file or stdin, never argv (argv is world
// readable in /proc). No trimming: the bytes in the file are the PIN.
import { readFile } from 'node:fs/promises';
import { OPAL_KEY_LEN_MAX } from '../../opal/abi';
import { UsageError } from '../../util/command';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return all;
}

/** Read a PIN from PATH, or from stdin for "-". The caller zeroes the Buffer. */
export async function readPin(
  flag: string,
  source: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<Buffer> {
  let pin: Buffer;
  try {
    pin = source === '-' ? await readStdin(stdin) : await readFile(source);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`${flag}: cannot read ${source === '-' ? 'stdin' : source} (${code})`);
  }
  if (pin.length === 0 || pin.length > OPAL_KEY_LEN_MAX) {
    const n = pin.length;
    pin.fill(0);
    throw new UsageError(`${flag}: a PIN is 1..${OPAL_KEY_LEN_MAX} bytes, got ${n}`);
  }
  return pin;
}
