// The KMIP JSON and XML encodings (kmip.md §9): spellings the rules fix, names per KMIP
// version and per sibling Attribute Name, and readers that refuse bad input clearly.
import t, { type Test } from 'tap';
import {
  Tag,
  ItemType,
  TtlvError,
  Operation,
  CryptographicAlgorithm,
  CryptographicUsageMask,
  encodeTtlv,
  decodeTtlv,
  jsonToTtlv,
  ttlvToJson,
  ttlvToXml,
  xmlToTtlv,
  xmlToTtlvList,
  struct,
  int,
  long,
  bigInteger,
  enumv,
  bool,
  text,
  bytes,
  dateTime,
  dateTimeExtended,
  interval,
  type JsonItem,
  type TtlvItem,
} from '../../../src/kmip/ttlv';

const v14 = { major: 1, minor: 4 };

/** A request message of `version` with one batch item holding `payload`. */
function message(
  version: [number, number],
  payload: TtlvItem[],
  op: number = Operation.Get,
): TtlvItem {
  return struct(Tag.RequestMessage, [
    struct(Tag.RequestHeader, [
      struct(Tag.ProtocolVersion, [
        int(Tag.ProtocolVersionMajor, version[0]),
        int(Tag.ProtocolVersionMinor, version[1]),
      ]),
      int(Tag.BatchCount, 1),
    ]),
    struct(Tag.BatchItem, [enumv(Tag.Operation, op), struct(Tag.RequestPayload, payload)]),
  ]);
}

/** The JSON item found by walking tag names. */
function at(j: JsonItem, ...tags: string[]): JsonItem {
  let cur = j;
  for (const tag of tags) {
    const next = (cur.value as JsonItem[]).find((c) => c.tag === tag);
    if (!next) throw new Error(`no ${tag}`);
    cur = next;
  }
  return cur;
}

function roundTrips(t: Test, item: TtlvItem, what: string): void {
  const wire = encodeTtlv(item);
  t.same(
    encodeTtlv(jsonToTtlv(JSON.stringify(ttlvToJson(item)))),
    wire,
    `${what}: JSON round trip`,
  );
  t.same(encodeTtlv(xmlToTtlv(ttlvToXml(item))), wire, `${what}: XML round trip`);
}

t.test('scalar spellings', async (t) => {
  const j = (item: TtlvItem) => ttlvToJson(item, v14);
  t.same(j(int(Tag.BatchCount, -5)), { tag: 'BatchCount', type: 'Integer', value: -5 });
  t.equal(j(long(Tag.UsageLimitsCount, 2n ** 52n - 1n)).value, 2 ** 52 - 1, 'below 2^52: a number');
  t.equal(j(long(Tag.UsageLimitsCount, 2n ** 52n)).value, '0x0010000000000000', 'from 2^52: hex');
  t.equal(
    j(long(Tag.UsageLimitsCount, -(2n ** 52n))).value,
    '0xFFF0000000000000',
    'two’s complement',
  );
  t.equal(j(bigInteger(Tag.Modulus, -1n)).value, '0xffffffffffffffff', 'Big Integer sign-extended');
  t.equal(j(bigInteger(Tag.Modulus, 255n)).value, '0x00000000000000ff');
  t.equal(j(enumv(Tag.Operation, 0xffffffff)).value, '0xFFFFFFFF', 'unknown enumeration in hex');
  t.equal(j(enumv(Tag.Operation, 0x80000001)).value, '0x80000001', 'extension value in hex');
  t.equal(j(bool(Tag.Sensitive, true)).value, true);
  t.equal(j(bytes(Tag.KeyMaterial, Buffer.from([0, 255]))).value, '00ff');
  t.equal(j(dateTime(Tag.TimeStamp, 0)).value, '1970-01-01T00:00:00+00:00');
  t.equal(j(dateTimeExtended(Tag.TimeStamp, 1_000_001n)).value, '1970-01-01T00:00:01.000001+00:00');
  t.equal(j(interval(Tag.LeaseTime, 864000)).value, 864000);
  t.same(
    j(text(0x540001, 'x')),
    { tag: '0x540001', type: 'TextString', value: 'x' },
    'unknown tag in hex',
  );
  t.equal(j(int(Tag.CryptographicUsageMask, 12)).value, 'Encrypt|Decrypt', 'mask by names');
  t.equal(
    j(int(Tag.CryptographicUsageMask, 0x40000000)).value,
    0x40000000,
    'unnamed bit: a number',
  );
});

t.test('readers accept every spelling the rules allow', async (t) => {
  const parse = (tag: string, type: string, value: unknown) =>
    jsonToTtlv({ tag, type, value }, v14) as TtlvItem;
  t.equal(parse('BatchCount', 'Integer', '0x0000000A').value, 10);
  t.equal(parse('BatchCount', 'Integer', '0xFFFFFFFF').value, -1);
  t.equal(parse('CryptographicUsageMask', 'Integer', 'Decrypt|Encrypt').value, 12);
  t.equal(parse('CryptographicUsageMask', 'Integer', 'Decrypt Encrypt').value, 12);
  t.equal(parse('UsageLimitsCount', 'LongInteger', '0xFFF0000000000000').value, -(2n ** 52n));
  t.equal(parse('Modulus', 'BigInteger', '0xffffffffffffffff').value, -1n);
  t.equal(parse('Operation', 'Enumeration', '0x0000000A').value, Operation.Get);
  t.equal(parse('TimeStamp', 'DateTime', '2024-01-01T00:00:00Z').value, 1704067200n);
  t.equal(parse('TimeStamp', 'DateTime', '2024-01-01T01:00:00+01:00').value, 1704067200n);
  t.equal(
    parse('0x420092', 'DateTime', '2024-01-01T00:00:00+00:00').tag,
    Tag.TimeStamp,
    'hex tag for a known one',
  );
  t.equal(
    parse('TimeStamp', 'DateTimeExtended', '2024-01-01T00:00:00.5Z').value,
    1704067200500000n,
  );
  const s = jsonToTtlv({ tag: 'RequestPayload', value: [] });
  t.equal(s.type, ItemType.Structure, 'type may be omitted for a Structure');
});

t.test('enumeration names follow the message’s KMIP version', async (t) => {
  const setAttr = message([1, 4], [], Operation.SetAttribute);
  t.equal(
    at(ttlvToJson(setAttr), 'BatchItem', 'Operation').value,
    '0x00000031',
    'not defined in 1.4',
  );
  const setAttr20 = message([2, 0], [], Operation.SetAttribute);
  t.equal(
    at(ttlvToJson(setAttr20), 'BatchItem', 'Operation').value,
    'SetAttribute',
    'named in 2.0',
  );
  t.match(ttlvToXml(setAttr20), /<Operation type="Enumeration" value="SetAttribute"\/>/);
  roundTrips(t, setAttr, '1.4 message');
  roundTrips(t, setAttr20, '2.0 message');
  const template20 = message([2, 0], [enumv(Tag.ObjectType, 6)]);
  t.equal(
    at(ttlvToJson(template20), 'BatchItem', 'RequestPayload', 'ObjectType').value,
    '0x00000006',
    'Template is reserved in 2.0',
  );
  const template12 = message([1, 2], [enumv(Tag.ObjectType, 6)]);
  t.equal(
    at(ttlvToJson(template12), 'BatchItem', 'RequestPayload', 'ObjectType').value,
    'Template',
  );
});

t.test('1.x Attribute Values are named by their sibling Attribute Name', async (t) => {
  const attr = (name: string, value: TtlvItem) =>
    struct(Tag.Attribute, [text(Tag.AttributeName, name), { ...value, tag: Tag.AttributeValue }]);
  const msg = message(
    [1, 2],
    [
      attr('Cryptographic Algorithm', enumv(0, CryptographicAlgorithm.AES)),
      attr(
        'Cryptographic Usage Mask',
        int(0, CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
      ),
      attr('x-custom', enumv(0, 3)),
    ],
    Operation.Locate,
  );
  const payload = at(ttlvToJson(msg), 'BatchItem', 'RequestPayload').value as JsonItem[];
  t.equal(at(payload[0]!, 'AttributeValue').value, 'AES');
  t.equal(at(payload[1]!, 'AttributeValue').value, 'Encrypt|Decrypt');
  t.equal(at(payload[2]!, 'AttributeValue').value, '0x00000003', 'unknown attribute: hex');
  t.match(ttlvToXml(msg), /<AttributeValue type="Integer" value="Encrypt Decrypt"\/>/);
  roundTrips(t, msg, 'attribute message');
});

t.test('2.x Attribute References name tags', async (t) => {
  const msg = message(
    [2, 0],
    [text(Tag.UniqueIdentifier, '1'), enumv(Tag.AttributeReference, Tag.State)],
    Operation.GetAttributes,
  );
  t.equal(at(ttlvToJson(msg), 'BatchItem', 'RequestPayload', 'AttributeReference').value, 'State');
  roundTrips(t, msg, 'attribute reference');
});

t.test('text round-trips NUL, markup characters and non-ASCII', async (t) => {
  const odd = struct(Tag.RequestPayload, [
    text(Tag.UniqueIdentifier, 'a\u0000b<c>&"d\'\t\n\u00e9\u{1f511}'),
    text(0x540001, ''),
    bytes(Tag.KeyMaterial, Buffer.alloc(0)),
    struct(0x540002, []),
  ]);
  roundTrips(t, odd, 'odd text');
  t.match(ttlvToXml(odd), /<TTLV tag="0x540001" type="TextString" value=""\/>/);
  t.match(ttlvToXml(odd), /<TTLV tag="0x540002" type="Structure"\/>/);
});

t.test('the OASIS vector layout: <KMIP> root, comments, bare "# TIME" text', async (t) => {
  const xml = `<?xml version="1.0"?>\n<!-- a comment -->\n<KMIP> # TIME 0\n${ttlvToXml(message([1, 0], []))}# TIME 1\n${ttlvToXml(message([1, 0], []))}</KMIP>\n`;
  const list = xmlToTtlvList(xml);
  t.equal(list.length, 2);
  t.throws(() => xmlToTtlv(xml), TtlvError, 'one message expected by xmlToTtlv');
});

t.test('bad text input: a TtlvError naming the field, nothing else', async (t) => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['not JSON', () => jsonToTtlv('{'), /not JSON/],
    ['no tag', () => jsonToTtlv({ type: 'Integer', value: 1 }), /no tag/],
    [
      'unknown tag',
      () => jsonToTtlv({ tag: 'Nope', type: 'Integer', value: 1 }),
      /\/Nope: unknown tag/,
    ],
    [
      'unknown type',
      () => jsonToTtlv({ tag: 'BatchCount', type: 'Float', value: 1 }),
      /unknown type/,
    ],
    [
      'enum name',
      () =>
        jsonToTtlv({
          tag: 'RequestPayload',
          value: [{ tag: 'Operation', type: 'Enumeration', value: 'Fly' }],
        }),
      /\/RequestPayload\/Operation: unknown enumeration name/,
    ],
    [
      'Integer range',
      () => jsonToTtlv({ tag: 'BatchCount', type: 'Integer', value: 2 ** 31 }),
      /signed 32-bit/,
    ],
    [
      'Long precision',
      () => jsonToTtlv({ tag: 'UsageLimitsCount', type: 'LongInteger', value: 2 ** 60 }),
      /LongInteger/,
    ],
    [
      'Big Integer size',
      () => jsonToTtlv({ tag: 'Modulus', type: 'BigInteger', value: '0x01' }),
      /multiple of 8/,
    ],
    [
      'odd hex',
      () => jsonToTtlv({ tag: 'KeyMaterial', type: 'ByteString', value: 'abc' }),
      /ByteString must be hex/,
    ],
    [
      'bad date',
      () => jsonToTtlv({ tag: 'TimeStamp', type: 'DateTime', value: '2024-02-30T00:00:00Z' }),
      /ISO 8601/,
    ],
    [
      'no zone',
      () => jsonToTtlv({ tag: 'TimeStamp', type: 'DateTime', value: '2024-01-01T00:00:00' }),
      /ISO 8601/,
    ],
    ['structure value', () => jsonToTtlv({ tag: 'RequestPayload', value: 5 }), /array/],
    ['XML unclosed', () => xmlToTtlv('<RequestPayload>'), /not closed/],
    ['XML mismatched', () => xmlToTtlv('<RequestPayload></BatchItem>'), /closes/],
    [
      'XML entity',
      () => xmlToTtlv('<UniqueIdentifier type="TextString" value="&bogus;"/>'),
      /bare '&'/,
    ],
    ['XML no value', () => xmlToTtlv('<BatchCount type="Integer"/>'), /missing value/],
    ['XML DTD', () => xmlToTtlv('<RequestPayload><!DOCTYPE x></RequestPayload>'), /DTD/],
    ['XML trailing', () => xmlToTtlv('<RequestPayload/><x/>'), /after the root/],
  ];
  for (const [name, fn, pattern] of cases) {
    try {
      fn();
      t.fail(`${name}: accepted`);
    } catch (err) {
      t.type(err, TtlvError, name);
      t.match((err as Error).message, pattern, name);
    }
  }
  let deep = '{"tag":"BatchCount","type":"Integer","value":1}';
  for (let i = 0; i < 100; i++) deep = `{"tag":"Attribute","value":[${deep}]}`;
  t.throws(() => jsonToTtlv(deep), TtlvError, 'JSON nesting bounded');
  t.throws(
    () => xmlToTtlv('<Attribute>'.repeat(100) + '</Attribute>'.repeat(100)),
    TtlvError,
    'XML nesting bounded',
  );
});

t.test('secret values never appear in errors', async (t) => {
  const secret = '00112233445566778899aabbccddeeff0';
  try {
    jsonToTtlv({ tag: 'KeyMaterial', type: 'ByteString', value: secret });
    t.fail('odd-length hex accepted');
  } catch (err) {
    t.notMatch((err as Error).message, secret.slice(0, 8), 'key hex not echoed');
  }
  try {
    jsonToTtlv({ tag: 'CredentialValue', type: 'TextString', value: 987654 });
    t.fail('number accepted as text');
  } catch (err) {
    t.notMatch((err as Error).message, '987654', 'value not echoed');
  }
  const wire = encodeTtlv(
    struct(Tag.KeyValue, [bytes(Tag.KeyMaterial, Buffer.from(secret.slice(0, 30), 'hex'))]),
  );
  wire[wire.length - 1] = 1; // break the structure's last padding byte
  try {
    decodeTtlv(wire);
    t.fail('bad padding accepted');
  } catch (err) {
    t.notMatch((err as Error).message, secret.slice(0, 8), 'decode errors carry no value bytes');
  }
});

t.test('decoded Byte Strings are views: wiping the input wipes the key', async (t) => {
  const key = Buffer.alloc(32, 0xab);
  const wire = encodeTtlv(struct(Tag.KeyValue, [bytes(Tag.KeyMaterial, key)]));
  const material = (decodeTtlv(wire).value as TtlvItem[])[0]!.value as Buffer;
  t.same(material, key);
  wire.fill(0);
  t.ok(
    material.every((b) => b === 0),
    'no copy of the key survives the caller zeroing its buffer',
  );
});
