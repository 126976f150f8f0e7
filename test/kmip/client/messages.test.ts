// Request encodings against bytes captured from a real peer (kmip.md §1.7), and the
// 1.x / 2.x attribute encodings read back.
import t from 'tap';
import { ItemType, Tag, decodeTtlv, encodeTtlv, find, struct } from '../../../src/kmip/ttlv';
import {
  decodeResponse,
  encodeRequest,
  encodeResponse,
  ops,
  readAttributes,
  templateAttribute,
} from '../../../src/kmip/messages';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

t.test('Discover Versions request, header 1.4, empty payload: byte-exact', async (t) => {
  const op = ops.discoverVersions([]);
  const v = { major: 1, minor: 4 };
  const bytes = encodeTtlv(
    encodeRequest({ version: v, items: [{ operation: op.operation, payload: op.encode(v) }] }),
  );
  t.equal(
    bytes.toString('hex'),
    '42007801000000604200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000000042000d0200000004000000010000000042000f010000001842005c05000000040000001e000000004200790100000000',
  );
});

t.test('Create AES-256 named k1 in KMIP 2.0: byte-exact with PyKMIP', async (t) => {
  const op = ops.create({ names: ['k1'] });
  const v = { major: 2, minor: 0 };
  const bytes = encodeTtlv(
    encodeRequest({ version: v, items: [{ operation: op.operation, payload: op.encode(v) }] }),
  );
  t.equal(
    bytes.toString('hex'),
    '42007801000000d04200770100000038420069010000002042006a0200000004000000020000000042006b0200000004000000000000000042000d0200000004000000010000000042000f010000008842005c0500000004000000010000000042007901000000704200570500000004000000020000000042012501000000584200280500000004000000030000000042002a0200000004000001000000000042002c02000000040000000c00000000420053010000002042005507000000026b3100000000000042005405000000040000000100000000',
  );
});

t.test('Create in KMIP 1.4 is the 360-byte Template-Attribute form', async (t) => {
  const op = ops.create({ names: ['k1'] });
  const v = { major: 1, minor: 4 };
  const bytes = encodeTtlv(
    encodeRequest({ version: v, items: [{ operation: op.operation, payload: op.encode(v) }] }),
  );
  t.equal(bytes.length, 360);
  const attrs = readAttributes(find(find(decodeTtlv(bytes), Tag.BatchItem), Tag.RequestPayload));
  t.same(attrs, {
    cryptographicAlgorithm: 3,
    cryptographicLength: 256,
    cryptographicUsageMask: 12,
    names: ['k1'],
  });
});

t.test('Create response 2.0 from PyKMIP decodes', async (t) => {
  const msg = decodeResponse(
    decodeTtlv(
      hex(
        '42007b01000000a042007a0100000048420069010000002042006a0200000004000000020000000042006b020000000400000000000000004200920900000008000000006b0b614542000d0200000004000000010000000042000f010000004842005c0500000004000000010000000042007f0500000004000000000000000042007c01000000204200570500000004000000020000000042009407000000013900000000000000',
      ),
    ),
  );
  t.same(msg.version, { major: 2, minor: 0 });
  t.equal(msg.items.length, 1);
  t.same(ops.create().decode(msg.items[0]!.payload, msg.version), {
    objectType: 2,
    uniqueIdentifier: '9',
  });
});

t.test('attributes round-trip in both encodings, custom ones included', async (t) => {
  const attrs = {
    names: ['a', 'b'],
    objectGroups: ['g'],
    cryptographicUsageMask: 2,
    operationPolicyName: 'shared',
    custom: { Drive: 'serial-1' },
  };
  for (const v of [
    { major: 1, minor: 0 },
    { major: 1, minor: 4 },
  ]) {
    const container = struct(Tag.RequestPayload, [templateAttribute(v, attrs)]);
    t.same(readAttributes(container), attrs, `1.${v.minor}`);
  }
  const v2 = templateAttribute({ major: 2, minor: 0 }, attrs);
  t.equal(v2.tag, Tag.Attributes);
  const { operationPolicyName: _dropped, ...rest } = attrs;
  t.same(readAttributes(struct(Tag.RequestPayload, [v2])), rest, '2.0 drops 1.x-only');
});

t.test('a response whose Batch Count disagrees is refused', async (t) => {
  const msg = encodeResponse({
    version: { major: 1, minor: 4 },
    items: [{ operation: 10, resultStatus: 0 }],
  });
  const count = find(find(msg, Tag.ResponseHeader), Tag.BatchCount)!;
  if (count.type === ItemType.Integer) count.value = 2;
  t.throws(() => decodeResponse(decodeTtlv(encodeTtlv(msg))), /Batch Count 2 but 1/);
});
