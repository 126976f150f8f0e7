import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { UsageError } from '../../src/util/command';
import { readPin } from '../../src/cli/opal/pin-source';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-pin-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('raw bytes from a file, nothing trimmed', async (t) => {
  const p = join(dir, 'pin');
  writeFileSync(p, Buffer.from('pin with newline\n\0\xff', 'latin1'));
  t.same(await readPin('--pin-file', p), Buffer.from('pin with newline\n\0\xff', 'latin1'));
});

t.test('stdin in chunks', async (t) => {
  const pin = await readPin(
    '--pin-file',
    '-',
    Readable.from([Buffer.from('ab'), Buffer.from('cd')]),
  );
  t.same(pin, Buffer.from('abcd'));
});

t.test('empty, too long, unreadable: usage errors that never quote the PIN', async (t) => {
  await t.rejects(readPin('--pin-file', '-', Readable.from([])), UsageError);
  const long = join(dir, 'long');
  writeFileSync(long, Buffer.alloc(256, 0x41));
  await t.rejects(readPin('--new-pin-file', long), {
    message: '--new-pin-file: a PIN is 1..255 bytes, got 256',
  });
  await t.rejects(readPin('--pin-file', join(dir, 'nope')), /cannot read .*\(ENOENT\)/);
  await t.rejects(readPin('--pin-file', dir), /\(EISDIR\)/);
});
