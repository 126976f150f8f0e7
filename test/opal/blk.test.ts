import t from 'tap';
import { BLKGETSIZE64, BLKRRPART, rereadPartitions } from '../../src/opal/blk';
import { OpalIoctlUnsupportedError } from '../../src/opal/errors';
import { LibcTransport } from '../../src/opal/libc-transport';
import { RecordingTransport } from '../../src/opal/recording-transport';

t.test('request numbers of <linux/fs.h>', async (t) => {
  t.equal(BLKGETSIZE64, 0x80081272);
  t.equal(BLKRRPART, 0x0000125f);
});

t.test('rereadPartitions: one BLKRRPART, fd closed, typed error', async (t) => {
  const tr = new RecordingTransport();
  await rereadPartitions(tr, '/dev/sdz');
  t.same(
    tr.calls.map((c) => (c.op === 'ioctl' ? c.request : c.op)),
    ['open', BLKRRPART, 'close'],
  );
  await t.rejects(rereadPartitions(new LibcTransport(), '/dev/null'), OpalIoctlUnsupportedError);
  await t.rejects(rereadPartitions(new LibcTransport(), '/dev/null'), /^BLKRRPART on \/dev\/null/);
});
