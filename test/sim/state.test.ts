import t from 'tap';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, seal } from '../../src/sim/crypto/seal';
import { halvesDiffer, newXtsKey, xtsDecrypt, xtsEncrypt } from '../../src/sim/crypto/xts';
import { checkPin, derivePinSecrets, newPinSalt } from '../../src/sim/crypto/pin-kdf';
import { decodeVolatile, encodeVolatile, powerOnState } from '../../src/sim/drive/volatile';
import { VolatileJournal } from '../../src/sim/persistence/volatile-journal';
import { FrameDecoder, FrameError, encodeFrame } from '../../src/opal/sim-socket/frame';

t.test('sealed blobs open only with the same key and AAD', async (t) => {
  const key = randomBytes(32);
  const blob = seal(key, Buffer.from('secret'), 'drive-a/range/0');
  t.same(open(key, blob, 'drive-a/range/0'), Buffer.from('secret'));
  t.equal(open(key, blob, 'drive-a/range/1'), null, 'moved to another range');
  t.equal(open(randomBytes(32), blob, 'drive-a/range/0'), null);
  t.equal(open(key, blob.subarray(0, 20), 'drive-a/range/0'), null, 'torn');
});

t.test('PIN verifier: right PIN gives the KEK, wrong PIN nothing', async (t) => {
  const pin = randomBytes(32);
  const salt = newPinSalt();
  const { verifier, kek } = derivePinSecrets(pin, salt);
  t.same(checkPin(pin, salt, verifier), kek);
  t.equal(checkPin(randomBytes(32), salt, verifier), null);
  t.equal(checkPin(pin, newPinSalt(), verifier), null);
});

t.test('XTS keys have distinct halves; tweak is the LBA', async (t) => {
  const key = newXtsKey();
  t.ok(halvesDiffer(key));
  t.notOk(halvesDiffer(Buffer.alloc(64, 7)));
  const block = randomBytes(512);
  const c5 = xtsEncrypt(key, 5, block);
  t.notSame(c5, xtsEncrypt(key, 6, block), 'same data, other LBA, other ciphertext');
  t.same(xtsDecrypt(key, 5, c5), block);
});

t.test('volatile state round-trips and rejects foreign bytes', async (t) => {
  const v = powerOnState();
  v.lspTries[3] = 4;
  v.readLocked[0] = false;
  v.held[0] = newXtsKey();
  v.held[4] = newXtsKey();
  v.dek = newXtsKey();
  v.saved.push(randomBytes(280));
  v.mbrDone = true;
  const back = decodeVolatile(encodeVolatile(v));
  t.same(back, v);
  t.equal(decodeVolatile(randomBytes(40)), null);
  t.equal(decodeVolatile(encodeVolatile(v).subarray(0, 50)), null, 'truncated');
});

t.test('journal: last whole record wins, a torn tail is ignored, compaction', async (t) => {
  const path = join(t.testdir(), 'j');
  const key = randomBytes(32);
  const j = new VolatileJournal(path, key, 'aad');
  t.equal(j.load(), null);
  j.append(Buffer.from('one'));
  j.append(Buffer.from('two'));
  j.close();
  appendFileSync(path, Buffer.from([0, 0, 0, 60, 1, 2, 3])); // a write cut short
  t.same(new VolatileJournal(path, key, 'aad').load(), Buffer.from('two'));
  t.equal(new VolatileJournal(path, randomBytes(32), 'aad').load(), null, 'other key');
  writeFileSync(path, '');
  const big = new VolatileJournal(path, key, 'aad');
  const record = randomBytes(4096);
  for (let i = 0; i < 300; i++) big.append(record);
  big.append(Buffer.from('last'));
  big.close();
  t.ok(statSync(path).size < 1 << 20, 'compacted below a MiB');
  t.same(new VolatileJournal(path, key, 'aad').load(), Buffer.from('last'));
  t.equal(readFileSync(path).indexOf(record.subarray(0, 32)), -1, 'records are sealed');
});

t.test('frames: split across chunks, several per chunk, hostile lengths', async (t) => {
  const d = new FrameDecoder();
  const a = encodeFrame({ id: 1, op: 'x' }, Buffer.from([1, 2, 3]));
  const b = encodeFrame({ id: 2 });
  const both = Buffer.concat([a, b]);
  t.same(d.push(both.subarray(0, 5)), []);
  const frames = d.push(both.subarray(5));
  t.same(
    frames.map((f) => [f.header.id, [...f.payload]]),
    [
      [1, [1, 2, 3]],
      [2, []],
    ],
  );
  t.throws(() => new FrameDecoder().push(Buffer.from([0x7f, 0, 0, 0])), FrameError);
  t.throws(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 5, 0, 0, 0, 9, 0])), FrameError);
  const notObject = Buffer.from('\0\0\0\x07\0\0\0\x03[1]');
  t.throws(() => new FrameDecoder().push(notObject), /not a JSON object/);
});
