// A reply's JSON produced in pieces is JSON.stringify's text byte for byte: checked over
// many generated shapes (nested, unicode and lone surrogates, empty containers, holes,
// toJSON, boxed primitives, undefined, non-finite numbers), cut at several piece sizes.
import t from 'tap';
import { isSmallJson, jsonPieces, jsonText, WRITE_PIECE_BYTES } from '../../src/api/json-pieces';
import { Rng } from '../../scripts/reliability/fuzz/rng';

const CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '/',
  '\b',
  '\f',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '€',
  '中',
  '\u2028',
  '\u2029',
  '😀',
  '\ud800',
  '\udfff',
  '\ud83d',
  '\ude00',
  '\ufeff',
];
const KEYS = ['id', 'result', '', '1', '10', '-1', '01', '__proto__x', 'ünï', 'a"b', '\ud800'];
const NUMBERS = [0, -0, 1, -17, 3.5, 1e21, 1e-7, 5e-324, NaN, Infinity, -Infinity, 2 ** 53];

function text(rng: Rng): string {
  let s = '';
  for (let n = rng.int(12); n > 0; n--) s += rng.pick(CHARS);
  return s;
}

function value(rng: Rng, depth: number): unknown {
  const kind = rng.int(depth > 3 ? 6 : 16);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(NUMBERS);
    case 3:
    case 4:
      return text(rng);
    case 5:
      return rng.pick([undefined, () => 1, Symbol('s')]);
    case 6:
    case 7:
    case 8: {
      const o: Record<string, unknown> = rng.chance(0.2) ? Object.create(null) : {};
      for (let n = rng.int(5); n > 0; n--) o[rng.pick(KEYS) + text(rng)] = value(rng, depth + 1);
      return o;
    }
    case 9:
    case 10: {
      const a: unknown[] = new Array(rng.int(6));
      for (let i = 0; i < a.length; i++) if (rng.chance(0.85)) a[i] = value(rng, depth + 1);
      return a;
    }
    case 11: {
      // toJSON is called with its key, once: what it returns is not asked again.
      const inner = value(rng, depth + 1);
      const variant = rng.int(4);
      return {
        ignored: 1,
        toJSON(key: string) {
          if (variant === 0) return `key=${key}`;
          if (variant === 1) return { key, inner, toJSON: () => 'must not be called' };
          if (variant === 2) return undefined;
          return inner;
        },
      };
    }
    case 12:
      return rng.pick([new Number(rng.pick(NUMBERS)), new String(text(rng)), new Boolean(false)]);
    case 13:
      return rng.pick([new Date(rng.u32() * 1000), new Date(NaN), Buffer.from(text(rng))]);
    case 14:
      return rng.pick([new Map([[1, 2]]), new Set([1]), Object(Symbol('boxed'))]);
    default: {
      // Getters and a class instance: read as plain data.
      class Record {
        constructor(readonly n: unknown) {}
        get visible() {
          return 'g';
        }
      }
      const o = new Record(value(rng, depth + 1));
      Object.defineProperty(o, 'shown', { enumerable: true, get: () => text(rng) });
      return o;
    }
  }
}

function concat(pieces: Iterable<Buffer>, max: number): Buffer {
  const all = [...pieces];
  for (const p of all)
    if (p.length > max || p.length === 0) throw new Error(`piece of ${p.length}`);
  return Buffer.concat(all);
}

t.test('the pieces are JSON.stringify byte for byte, over generated shapes', async (t) => {
  const rng = new Rng(0x5eed);
  let mismatches = 0;
  let small = 0;
  for (let i = 0; i < 4000; i++) {
    const seedOfCase = rng.u32();
    const v = value(new Rng(seedOfCase), 0);
    // A getter draws from its generator: each run rebuilds the value from the same seed.
    const expected = JSON.stringify(value(new Rng(seedOfCase), 0));
    const pieceBytes = [1, 7, 64, WRITE_PIECE_BYTES][i % 4]!;
    const got = concat(jsonPieces(v, pieceBytes), pieceBytes);
    const want = expected === undefined ? Buffer.alloc(0) : Buffer.from(expected, 'utf8');
    if (isSmallJson(v, 600)) small++;
    if (!got.equals(want) && mismatches++ < 3) {
      t.fail(`case ${seedOfCase}`, { got: got.toString(), want: expected });
    }
  }
  t.equal(mismatches, 0, '4000 shapes, each identical');
  t.ok(small > 500 && small < 3500, `${small} of them told small`);
});

t.test(
  'a reply with a large list: pieces of at most WRITE_PIECE_BYTES, the same text',
  async (t) => {
    const servers = Array.from({ length: 200 }, (_, i) => ({
      keyServerID: i + 1,
      kmipCaCertificate: `-----BEGIN CERTIFICATE-----\n${'MIIB€'.repeat(400)}\n`,
      kmipKeyServerHostnames: ['127.0.0.1', `kms-${i}.example`],
      keyProviderID: i % 3 === 0 ? null : 1,
      unset: undefined,
    }));
    const reply = { id: 7, result: { kmipKeyServers: servers } };
    const pieces = [...jsonPieces(reply)];
    t.ok(pieces.length > 5, `${pieces.length} pieces`);
    t.ok(
      pieces.every((p) => p.length <= WRITE_PIECE_BYTES),
      'none over WRITE_PIECE_BYTES',
    );
    t.ok(
      pieces.slice(0, -1).every((p) => p.length > WRITE_PIECE_BYTES / 2),
      'all but the last are near full',
    );
    t.ok(Buffer.concat(pieces).equals(Buffer.from(JSON.stringify(reply))), 'identical bytes');
  },
);

t.test('a piece is made only when asked for', async (t) => {
  let called = 0;
  const list = Array.from({ length: 100 }, () => ({ toJSON: () => (called++, 'x'.repeat(4096)) }));
  const pieces = jsonPieces({ list });
  t.equal(called, 0, 'nothing serialized before the first piece is asked for');
  pieces.next();
  t.ok(called <= 17, `the first piece serialized ${called} elements of 100`);
});

t.test('what JSON.stringify refuses is refused', async (t) => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  t.throws(() => [...jsonText({ result: cyclic })], TypeError, 'a cycle through members');
  const list: unknown[] = [];
  list.push({ back: list });
  t.throws(() => [...jsonText({ list })], TypeError, 'a cycle through an array element');
  t.throws(() => [...jsonText({ n: 1n })], TypeError, 'a BigInt member');
  t.throws(() => [...jsonText([Object(2n)])], TypeError, 'a boxed BigInt element');
  const shared = { s: 1 };
  t.equal(
    [...jsonText({ a: shared, b: [shared, shared] })].join(''),
    JSON.stringify({ a: shared, b: [shared, shared] }),
    'a value held twice is no cycle',
  );
});

t.test('told small: plain data about within a piece, and only that', async (t) => {
  t.ok(isSmallJson({ id: 1, result: { drives: [{ serial: 'S1', attributes: {} }] } }));
  t.ok(isSmallJson(null));
  t.ok(isSmallJson({ s: 'x'.repeat(WRITE_PIECE_BYTES - 20) }), 'a string just within');
  t.notOk(isSmallJson({ s: 'x'.repeat(WRITE_PIECE_BYTES) }), 'a longer one is not');
  t.notOk(isSmallJson({ list: new Array(WRITE_PIECE_BYTES / 4).fill(0) }), 'many elements');
  t.notOk(isSmallJson({ when: new Date(0) }), 'a toJSON');
  t.notOk(isSmallJson({ n: new Number(1) }), 'a boxed number');
  t.notOk(isSmallJson({ big: 1n }), 'a BigInt: the walk throws as JSON.stringify');
  t.notOk(isSmallJson(undefined), 'no text');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.notOk(isSmallJson(cyclic), 'a cycle ends the walk');
});

t.test('no text for what JSON.stringify gives none', async (t) => {
  t.same([...jsonPieces(undefined)], []);
  t.same([...jsonPieces(() => 1)], []);
  t.same([...jsonPieces({ toJSON: () => undefined })], []);
});
