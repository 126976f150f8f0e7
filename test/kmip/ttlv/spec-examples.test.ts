// The worked encodings of KMIP 1.4 §9.1.2 (one per item type, tag 0x420020) and the
// Discover Versions request captured from PyKMIP: decode to the stated value, re-encode
// to the same bytes.
import t from 'tap';
import {
  ItemType,
  decodeTtlv,
  encodeTtlv,
  struct,
  int,
  long,
  bigInteger,
  enumv,
  bool,
  text,
  bytes,
  dateTime,
  interval,
  type TtlvItem,
} from '../../../src/kmip/ttlv';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

const examples: Array<[string, TtlvItem, string]> = [
  ['Integer 8', int(0x420020, 8), '42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00'],
  [
    'Long Integer 123456789000000000',
    long(0x420020, 123456789000000000n),
    '42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00',
  ],
  [
    'Big Integer 1234567890000000000000000000',
    bigInteger(0x420020, 1234567890000000000000000000n),
    '42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00',
  ],
  [
    'Enumeration 255',
    enumv(0x420020, 255),
    '42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00',
  ],
  ['Boolean true', bool(0x420020, true), '42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01'],
  [
    'Text String "Hello World"',
    text(0x420020, 'Hello World'),
    '42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00',
  ],
  [
    'Byte String 01 02 03',
    bytes(0x420020, Buffer.from([1, 2, 3])),
    '42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00',
  ],
  [
    'Date-Time 2008-03-14 11:56:40 GMT',
    dateTime(0x420020, new Date('2008-03-14T11:56:40Z')),
    '42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8',
  ],
  [
    'Interval 10 days',
    interval(0x420020, 864000),
    '42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00',
  ],
  [
    'Structure {Enumeration 254, Integer 255}',
    struct(0x420020, [enumv(0x420004, 254), int(0x420005, 255)]),
    '42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00',
  ],
];

for (const [name, item, bytesHex] of examples) {
  t.test(name, async (t) => {
    const wire = hex(bytesHex);
    t.same(encodeTtlv(item), wire, 'encodes to the spec bytes');
    t.same(decodeTtlv(wire), item, 'decodes to the spec value');
  });
}

t.test('negative Big Integer is sign-extended to 8 bytes', async (t) => {
  const wire = encodeTtlv(bigInteger(0x420020, -1n));
  t.equal(wire.toString('hex'), '4200200400000008ffffffffffffffff');
  t.equal(decodeTtlv(wire).value as bigint, -1n);
  const edge = bigInteger(0x420020, -(1n << 63n));
  t.equal(encodeTtlv(edge).length, 16, '-2^63 fits in 8 bytes');
  t.equal(encodeTtlv(bigInteger(0x420020, 1n << 63n)).length, 24, '2^63 needs 16 bytes');
  t.same(decodeTtlv(encodeTtlv(bigInteger(0x420020, 1n << 63n))).value, 1n << 63n);
});

t.test('Discover Versions request captured from PyKMIP round-trips', async (t) => {
  const wire = hex(
    '42007801000000604200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000000042000d0200000004000000010000000042000f010000001842005c05000000040000001e000000004200790100000000',
  );
  const item = decodeTtlv(wire);
  t.equal(item.type, ItemType.Structure);
  t.same(encodeTtlv(item), wire);
});
