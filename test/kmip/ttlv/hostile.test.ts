// What a network peer can send: truncations, lengths that disagree with the type or the
// enclosing structure, bad padding, deep nesting, oversize messages. The decoder refuses
// each with a TtlvError naming the offset and tag, and throws nothing else.
import t, { type Test } from 'tap';
import {
  Tag,
  TtlvError,
  decodeTtlv,
  encodeTtlv,
  ttlvMessageLength,
  struct,
  int,
  text,
  bytes,
  enumv,
  dateTime,
  type TtlvItem,
} from '../../../src/kmip/ttlv';

const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

/** A small but varied message: every length rule is exercised somewhere in it. */
const sample = encodeTtlv(
  struct(Tag.ResponseMessage, [
    struct(Tag.ResponseHeader, [
      struct(Tag.ProtocolVersion, [
        int(Tag.ProtocolVersionMajor, 1),
        int(Tag.ProtocolVersionMinor, 2),
      ]),
      dateTime(Tag.TimeStamp, 1_700_000_000),
      int(Tag.BatchCount, 1),
    ]),
    struct(Tag.BatchItem, [
      enumv(Tag.Operation, 0x0a),
      struct(Tag.ResponsePayload, [
        text(Tag.UniqueIdentifier, 'abc'),
        bytes(Tag.KeyMaterial, Buffer.alloc(13, 7)),
      ]),
    ]),
  ]),
);

function refuses(
  t: Test,
  wire: Buffer,
  offset: number,
  tag: number,
  pattern: RegExp,
  opts?: object,
): void {
  const err = catchError(() => decodeTtlv(wire, opts));
  if (!(err instanceof TtlvError)) {
    t.fail(`expected a TtlvError, got ${String(err)}`);
    return;
  }
  t.match(err.message, pattern);
  t.equal(err.offset, offset, `offset ${offset} named`);
  t.equal(err.tag, tag, `tag 0x${tag.toString(16)} named`);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('every truncation of a valid message is refused with a TtlvError', async (t) => {
  let others = 0;
  for (let n = 0; n < sample.length; n++) {
    const err = catchError(() => decodeTtlv(sample.subarray(0, n)));
    if (!(err instanceof TtlvError)) others++;
  }
  t.equal(others, 0, `all ${sample.length} prefixes refused with TtlvError`);
  t.ok(decodeTtlv(sample), 'the whole message decodes');
});

t.test('random corruption yields a tree or a TtlvError, never anything else', async (t) => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
  let refused = 0;
  let others = 0;
  for (let i = 0; i < 5000; i++) {
    const copy = Buffer.from(sample);
    for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
      copy[Math.floor(rand() * copy.length)] = Math.floor(rand() * 256);
    }
    const err = catchError(() => decodeTtlv(copy));
    if (err instanceof TtlvError) refused++;
    else if (err !== undefined) others++;
  }
  t.equal(others, 0, 'no foreign exceptions');
  t.ok(refused > 1000, `most corruptions are caught (${refused} of 5000)`);
});

t.test('lengths that disagree with the item type', async (t) => {
  refuses(
    t,
    hex('420020 02 00000005 0000000800000000'),
    0,
    0x420020,
    /Integer length 5, expected 4/,
  );
  refuses(t, hex('420020 05 00000008 0000000800000000'), 0, 0x420020, /Enumeration length 8/);
  refuses(t, hex('420020 06 00000004 0000000100000000'), 0, 0x420020, /Boolean length 4/);
  refuses(t, hex('420020 03 00000004 0000000000000001'), 0, 0x420020, /LongInteger length 4/);
  refuses(t, hex('420020 09 00000010 0000000000000001'), 0, 0x420020, /DateTime length 16/);
  refuses(t, hex('420020 04 00000000'), 0, 0x420020, /Big Integer length/);
  refuses(t, hex('420020 04 00000004 0000000100000000'), 0, 0x420020, /Big Integer length/);
  refuses(t, hex('420020 01 00000004 00000000'), 0, 0x420020, /multiple of 8/);
  refuses(t, hex('420020 0C 00000000'), 0, 0x420020, /unknown item type 0x0c/);
  refuses(t, hex('420020 00 00000000'), 0, 0x420020, /unknown item type 0x00/);
});

t.test('lengths that disagree with the enclosing structure', async (t) => {
  // Structure claims 8 bytes but its child needs 16.
  refuses(
    t,
    hex('420078 01 00000008 42006A 02 00000004 00000001 00000000'),
    8,
    0x42006a,
    /only 0 remain/,
  );
  // Child text claims 200 bytes inside a 16-byte structure.
  refuses(
    t,
    hex('420078 01 00000010 420094 07 000000C8 6162636400000000'),
    8,
    0x420094,
    /needs 200 value bytes but only 8/,
  );
  // Structure longer than the buffer.
  refuses(
    t,
    hex('420078 01 00000100 420094 07 00000001 6100000000000000'),
    0,
    0x420078,
    /needs 256 value bytes/,
  );
  // Length 0xFFFFFFFF does not wrap around.
  refuses(
    t,
    hex('420078 01 FFFFFFF8 420094 07 FFFFFFFF 6100000000000000'),
    0,
    0x420078,
    /needs 4294967288/,
  );
  refuses(t, hex('420094 07 FFFFFFFF 6100000000000000'), 0, 0x420094, /needs 4294967296/);
  // Trailing bytes after the message.
  refuses(t, Buffer.concat([sample, Buffer.alloc(8)]), sample.length, -1, /8 trailing bytes/);
  // A header cut short names the tag bytes it could read.
  refuses(t, hex('420078 01 0000'), 0, 0x420078, /truncated item header/);
});

t.test('padding and values are strict', async (t) => {
  refuses(t, hex('420020 02 00000004 00000008 00000001'), 12, 0x420020, /non-zero padding/);
  refuses(t, hex('420020 07 00000001 6101000000000000'), 9, 0x420020, /non-zero padding/);
  refuses(t, hex('420020 08 00000003 010203000000FF00'), 14, 0x420020, /non-zero padding/);
  refuses(t, hex('420020 06 00000008 0000000000000002'), 8, 0x420020, /neither 0 nor 1/);
  refuses(t, hex('420020 06 00000008 0100000000000001'), 8, 0x420020, /neither 0 nor 1/);
  refuses(t, hex('420020 07 00000002 C328000000000000'), 0, 0x420020, /not valid UTF-8/);
  t.equal(decodeTtlv(hex('420020 07 00000002 C3A9000000000000')).value, 'é', 'valid UTF-8 decodes');
});

t.test('nesting deeper than the bound is refused before recursing further', async (t) => {
  const nest = (depth: number): TtlvItem => {
    let item: TtlvItem = int(Tag.BatchCount, 1);
    for (let i = 0; i < depth; i++) item = struct(Tag.Attribute, [item]);
    return item;
  };
  t.ok(decodeTtlv(encodeTtlv(nest(32))), '32 levels decode (default bound)');
  refuses(t, encodeTtlv(nest(33)), 32 * 8, Tag.Attribute, /nest deeper than 32/);
  refuses(t, encodeTtlv(nest(5)), 2 * 8, Tag.Attribute, /nest deeper than 2/, { maxDepth: 2 });
  // 100 000 empty-ish structure headers in under 1 MiB: no stack overflow, just a TtlvError.
  const depth = 100_000;
  const deep = Buffer.alloc(depth * 8);
  for (let i = 0; i < depth; i++) {
    deep.writeUInt32BE(0x42000801, i * 8);
    deep.writeUInt32BE((depth - i - 1) * 8, i * 8 + 4);
  }
  refuses(t, deep, 32 * 8, Tag.Attribute, /nest deeper than 32/);
  t.throws(() => decodeTtlv(sample, { maxDepth: 100_000 }), TtlvError, 'absurd maxDepth refused');
});

t.test('oversize messages are refused before any work', async (t) => {
  const big = Buffer.alloc(DEFAULT_PLUS_8);
  big.writeUInt32BE(0x42007801, 0);
  big.writeUInt32BE(big.length - 8, 4);
  refuses(t, big, 0, -1, /exceeds the 1048576-byte limit/);
  refuses(t, sample, 0, -1, /exceeds the 64-byte limit/, { maxBytes: 64 });
  // A stream reader learns the size from the first 8 bytes and refuses to buffer more.
  t.equal(ttlvMessageLength(sample.subarray(0, 8)), sample.length);
  const claim = hex('420078 01 FFFFFFF0');
  const err = catchError(() => ttlvMessageLength(claim));
  t.type(err, TtlvError);
  t.match((err as TtlvError).message, /4294967288 bytes exceeds/);
  t.throws(
    () => ttlvMessageLength(hex('420078 07 00000010')),
    TtlvError,
    'message must be a Structure',
  );
  t.throws(() => ttlvMessageLength(hex('420078 01 0000')), TtlvError, 'short header');
});

t.test('an unknown tag or an unexpected field order still decodes', async (t) => {
  const odd = struct(0x540001, [
    int(Tag.BatchCount, 1),
    struct(Tag.RequestHeader, []),
    text(0x42ffff, 'x'),
  ]);
  t.same(decodeTtlv(encodeTtlv(odd)), odd);
});

t.test('the encoder refuses values its types cannot hold', async (t) => {
  const bad: Array<[string, unknown]> = [
    ['Integer above 2^31', { tag: Tag.BatchCount, type: 2, value: 2 ** 31 }],
    ['Integer not an integer', { tag: Tag.BatchCount, type: 2, value: 1.5 }],
    ['Enumeration negative', { tag: Tag.Operation, type: 5, value: -1 }],
    ['Long Integer beyond 64 bits', { tag: Tag.UsageLimitsCount, type: 3, value: 1n << 63n }],
    ['Long Integer as number', { tag: Tag.UsageLimitsCount, type: 3, value: 5 }],
    ['Text String not a string', { tag: Tag.UniqueIdentifier, type: 7, value: 5 }],
    ['Byte String not bytes', { tag: Tag.KeyMaterial, type: 8, value: 'ab' }],
    ['Boolean not boolean', { tag: Tag.Sensitive, type: 6, value: 1 }],
    ['Structure value not an array', { tag: Tag.RequestPayload, type: 1, value: {} }],
    ['tag wider than 24 bits', { tag: 0x1000000, type: 2, value: 1 }],
    ['unknown type', { tag: Tag.BatchCount, type: 12, value: 1 }],
  ];
  for (const [name, item] of bad) {
    const err = catchError(() => encodeTtlv(struct(Tag.RequestMessage, [item as TtlvItem])));
    t.type(err, TtlvError, name);
  }
  const cyclic = struct(Tag.RequestMessage, []);
  cyclic.value.push(cyclic);
  t.type(
    catchError(() => encodeTtlv(cyclic)),
    TtlvError,
    'cyclic tree refused',
  );
});

const DEFAULT_PLUS_8 = 1024 * 1024 + 8;
