// AES key wrap as SEAR uses it: RFC 3394's own test vector, a wrong master key refused by
// the integrity check (never a wrong DEK), and DEKs fit for AES-256-XTS.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  DEK_BYTES,
  UnwrapError,
  newDek,
  unwrapKey,
  wrapKey,
} from '../../../src/cluster/sear/key-wrap';

t.test('RFC 3394 4.6: 256 bits of key data with a 256-bit KEK', async (t) => {
  const kek = Buffer.from(
    '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    'hex',
  );
  const data = Buffer.from(
    '00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f',
    'hex',
  );
  const wrapped = wrapKey(kek, data);
  t.equal(
    wrapped.toString('hex'),
    '28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21',
  );
  t.same(unwrapKey(kek, wrapped, 'the vector'), data);
});

t.test('a DEK round-trips; another master key is refused', async (t) => {
  const mk = randomBytes(32);
  const dek = newDek();
  t.equal(dek.length, DEK_BYTES);
  t.notSame(dek.subarray(0, 32), dek.subarray(32), 'XTS halves differ');
  const wrapped = wrapKey(mk, dek);
  t.equal(wrapped.length, DEK_BYTES + 8);
  t.same(unwrapKey(mk, wrapped, 'the DEK'), dek);
  t.throws(() => unwrapKey(randomBytes(32), wrapped, 'the DEK of S1'), UnwrapError);
  t.throws(
    () => unwrapKey(randomBytes(32), wrapped, 'the DEK of S1'),
    /^the DEK of S1 does not unwrap with the master key$/,
    'the error names the DEK, never key bytes',
  );
  const tampered = Buffer.from(wrapped);
  tampered[5]! ^= 1;
  t.throws(() => unwrapKey(mk, tampered, 'x'), UnwrapError, 'a changed wrapped DEK is refused');
});
