import { randomBytes } from 'node:crypto';
import t from 'tap';
import { combine, gfDiv, gfMul, ShamirError, split } from '../../src/util/shamir';

// Published values for the field. FIPS-197 (AES) §4.2 and §4.2.1: {57}•{83} = {c1},
// {57}•{13} = {fe}, and the xtime chain {57}•{02} = {ae}, •{04} = {47}, •{08} = {8e},
// •{10} = {07}. HashiCorp Vault's shamir_test.go (TestField_Mult, TestField_Divide), the
// same field: 3•7 = 9, 6÷3 = 2, 3÷3 = 1, 0÷7 = 0.
t.test('GF(256) products and quotients match FIPS-197 and Vault', async (t) => {
  t.equal(gfMul(0x57, 0x83), 0xc1);
  t.equal(gfMul(0x57, 0x13), 0xfe);
  t.same(
    [0x02, 0x04, 0x08, 0x10].map((b) => gfMul(0x57, b)),
    [0xae, 0x47, 0x8e, 0x07],
  );
  t.equal(gfMul(3, 7), 9);
  t.equal(gfMul(3, 0), 0);
  t.equal(gfMul(0, 3), 0);
  t.equal(gfDiv(6, 3), 2);
  t.equal(gfDiv(3, 3), 1);
  t.equal(gfDiv(0, 7), 0);
  t.throws(() => gfDiv(1, 0), ShamirError);
});

// The AES S-box is the field inverse followed by an affine map (FIPS-197 §5.1.1), so its
// published values check every inverse the division relies on: the first row of Figure 7
// and the worked example S({53}) = {ed}.
t.test('the inverses give the AES S-box', async (t) => {
  const rotl = (b: number, n: number) => ((b << n) | (b >> (8 - n))) & 0xff;
  const sbox = (b: number) => {
    const inv = b === 0 ? 0 : gfDiv(1, b);
    return inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63;
  };
  const firstRow = [
    0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
  ];
  t.same(
    firstRow.map((_, b) => sbox(b)),
    firstRow,
  );
  t.equal(sbox(0x53), 0xed);
  for (let b = 1; b < 256; b++) if (gfMul(b, gfDiv(1, b)) !== 1) t.fail(`inverse of ${b}`);
});

// A degree-1 polynomial with slope {57}: its shares are the secret XOR the FIPS-197
// products above, so the share bytes are known without this code.
t.test('fixed coefficients give the shares FIPS-197 predicts, and they combine', async (t) => {
  const secret = Buffer.from([0x00, 0x2a]);
  const shares = split(secret, 0x83, 2, () => Buffer.from([0x57, 0x57]));
  const at = (x: number) => shares[x - 1]!.toString('hex');
  t.equal(at(0x02), 'ae8402');
  t.equal(at(0x04), '476d04');
  t.equal(at(0x10), '072d10');
  t.equal(at(0x13), 'fed413');
  t.equal(at(0x83), 'c1eb83');
  t.equal(
    combine([Buffer.from('fed413', 'hex'), Buffer.from('c1eb83', 'hex')]).toString('hex'),
    '002a',
  );
  t.equal(
    combine([Buffer.from('c1eb83', 'hex'), Buffer.from('ae8402', 'hex')]).toString('hex'),
    '002a',
  );
});

t.test('any threshold of the shares reconstruct; all of them too', async (t) => {
  const secret = randomBytes(32);
  for (const [count, threshold] of [
    [2, 2],
    [3, 2],
    [5, 3],
  ] as const) {
    const shares = split(secret, count, threshold);
    t.equal(shares.length, count);
    t.ok(
      shares.every((s) => s.length === 33),
      'y bytes and x',
    );
    const subsets = combinations(shares, threshold);
    t.ok(
      subsets.every((subset) => combine(subset).equals(secret)),
      `${threshold} of ${count}: all ${subsets.length} subsets`,
    );
    t.ok(combine(shares.slice().reverse()).equals(secret), 'all shares, any order');
  }
});

t.test('fewer than the threshold give a wrong secret', async (t) => {
  const secret = randomBytes(32);
  const shares = split(secret, 5, 3);
  for (const pair of combinations(shares, 2)) t.notOk(combine(pair).equals(secret));
  t.throws(() => combine([shares[0]!]), ShamirError, 'a single share is refused');
});

// A single share is consistent with every secret: for its y at x there is exactly one
// coefficient per candidate secret, so it tells nothing about the secret.
t.test('one share of a 2-of-n split fits every secret equally', async (t) => {
  const x = 5;
  const y = 0x9c;
  const coefficients = new Set<number>();
  for (let s = 0; s < 256; s++) {
    const a = gfDiv(y ^ s, x);
    coefficients.add(a);
    const share = split(Buffer.from([s]), 5, 2, () => Buffer.from([a]))[x - 1]!;
    if (share[0] !== y) t.fail(`secret ${s}`);
  }
  t.equal(coefficients.size, 256, 'a different coefficient for each secret');
});

t.test('the coefficients are zeroed after the split', async (t) => {
  let given: Buffer | undefined;
  split(Buffer.from('secret'), 3, 2, (n) => (given = randomBytes(n)));
  t.ok(given!.every((b) => b === 0));
});

t.test('bad arguments and mismatched shares are refused', async (t) => {
  t.throws(() => split(Buffer.alloc(0), 3), ShamirError, 'empty secret');
  t.throws(() => split(Buffer.from('x'), 3, 1), ShamirError, 'threshold 1');
  t.throws(() => split(Buffer.from('x'), 2, 3), ShamirError, 'fewer shares than threshold');
  t.throws(() => split(Buffer.from('x'), 256), ShamirError, 'too many shares');
  t.throws(
    () => split(Buffer.from('xy'), 3, 2, () => Buffer.alloc(1)),
    ShamirError,
    'short random',
  );
  const [a, b] = split(Buffer.from('secret'), 2);
  t.throws(() => combine([a!, a!]), ShamirError, 'same x twice');
  t.throws(() => combine([a!, b!.subarray(1)]), ShamirError, 'lengths differ');
  t.throws(() => combine([Buffer.from([1]), Buffer.from([2])]), ShamirError, 'too short');
  t.throws(() => combine([Buffer.from([1, 0]), Buffer.from([2, 1])]), ShamirError, 'x = 0');
  const error = t.throws(() => combine([a!, a!])) as Error;
  t.notMatch(error.message, a!.toString('hex'), 'no share in the message');
});

function combinations<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  return items.flatMap((item, i) =>
    combinations(items.slice(i + 1), size - 1).map((rest) => [item, ...rest]),
  );
}
