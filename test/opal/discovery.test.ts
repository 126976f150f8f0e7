import t from 'tap';
import { parseLevel0 } from '../../src/opal/drive/discovery';

function level0(features: Array<[number, Buffer]>): Buffer {
  const body = Buffer.concat(
    features.map(([code, data]) =>
      Buffer.concat([Buffer.from([code >> 8, code & 0xff, 0x10, data.length]), data]),
    ),
  );
  const head = Buffer.alloc(48);
  head.writeUInt32BE(44 + body.length, 0);
  head.writeUInt16BE(1, 6);
  return Buffer.concat([head, body]);
}

t.test('features and the Locking byte', async (t) => {
  const buf = level0([
    [0x0001, Buffer.alloc(12)],
    [0x0002, Buffer.from([0x29, ...Buffer.alloc(11)])],
    [0x0203, Buffer.alloc(16)],
    [0x0999, Buffer.alloc(4)],
  ]);
  const d = parseLevel0(buf);
  t.same(
    d.features.map((f) => [f.name, f.version, f.data.length]),
    [
      ['TPer', 1, 12],
      ['Locking', 1, 12],
      ['Opal v2', 1, 16],
      ['0x0999', 1, 4],
    ],
  );
  t.same(d.locking, {
    lockingSupported: true,
    lockingEnabled: false,
    locked: false,
    mediaEncryption: true,
    mbrEnabled: false,
    mbrDone: true,
    mbrShadowingNotSupported: false,
  });
  t.equal(d.minorVersion, 1);
});

t.test('the kernel copies length-field bytes: the last feature arrives clipped', async (t) => {
  const buf = level0([
    [0x0002, Buffer.from([0x07, ...Buffer.alloc(11)])],
    [0x0203, Buffer.alloc(16)],
  ]);
  const count = buf.readUInt32BE(0); // what IOC_OPAL_DISCOVERY returns and copies
  const d = parseLevel0(buf, count);
  t.equal(d.features.length, 2);
  t.equal(d.features[1].data.length, 12, 'clipped by 4 bytes');
  t.match(d.locking, { locked: true });
});

t.test('too short or a count beyond the buffer is a RangeError', async (t) => {
  t.throws(() => parseLevel0(Buffer.alloc(47)), RangeError);
  t.throws(() => parseLevel0(Buffer.alloc(64), 65), RangeError);
  t.same(parseLevel0(Buffer.alloc(48)).features, [], 'empty body');
  const junk = Buffer.alloc(64, 0xff);
  t.doesNotThrow(() => parseLevel0(junk), 'garbage does not crash');
});
