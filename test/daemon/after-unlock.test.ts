// After an unlock on the ioctl backend the partition table is re-read (BLKRRPART) through
// the real libc transport; the simulator backend has no such step. A file that is not a
// disk refuses the ioctl with a typed error, which boot unlock logs and goes on.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterUnlockStep } from '../../src/daemon/drive-backend';
import { LibcTransport } from '../../src/opal/libc-transport';
import { SimTransport } from '../../src/opal/sim-socket/transport';

t.test('the partition re-read step by backend', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-blk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(afterUnlockStep('sim', new SimTransport(join(dir, 'none.sock'))), {}, 'sim: none');

  const { afterUnlock } = afterUnlockStep('ioctl', new LibcTransport());
  t.type(afterUnlock, 'function', 'ioctl: a step');
  const file = join(dir, 'not-a-disk');
  writeFileSync(file, Buffer.alloc(4096));
  await t.rejects(afterUnlock!(file), /BLKRRPART/, 'the real ioctl ran and was refused');
  await t.rejects(afterUnlock!(join(dir, 'missing')), /ENOENT/, 'a missing device says so');
});
