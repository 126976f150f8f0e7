import t from 'tap';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { openSealer, SealError } from '../../src/store';
import { tempDir } from './tmpdir';

const secret = () => Buffer.from('a cluster private key: do not leak');

t.test('creates a 0600 32-byte seal.key once and round-trips', async (t) => {
  const stateDir = tempDir(t);
  const a = openSealer({ stateDir });
  const path = join(stateDir, 'seal.key');
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(readFileSync(path).length, 32);
  t.same(readdirSync(stateDir), ['seal.key'], 'no temporary file left');
  const keyBefore = readFileSync(path);
  const sealed = a.seal(secret(), 'cluster/privateKey');
  t.notOk(sealed.includes(secret()), 'ciphertext does not hold the plaintext');
  const b = openSealer({ stateDir });
  t.same(readFileSync(path), keyBefore, 'the key is never replaced');
  t.same(b.unseal(sealed, 'cluster/privateKey'), secret());
  t.not(a.seal(secret(), 'x').toString('hex'), a.seal(secret(), 'x').toString('hex'));
});

t.test('the label, the key and every byte are authenticated', async (t) => {
  const sealer = openSealer({ stateDir: tempDir(t) });
  const other = openSealer({ stateDir: tempDir(t) });
  const sealed = sealer.seal(secret(), 'drives/1/ak');
  t.throws(() => sealer.unseal(sealed, 'drives/2/ak'), SealError);
  t.throws(() => other.unseal(sealed, 'drives/1/ak'), /cannot unseal drives\/1\/ak/);
  for (const i of [0, 5, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[i] ^= 1;
    t.throws(() => sealer.unseal(bad, 'drives/1/ak'), SealError, `byte ${i} flipped`);
  }
  t.throws(() => sealer.unseal(sealed.subarray(0, 10), 'drives/1/ak'), /malformed/);
  t.throws(() => sealer.seal(secret(), ''), /label/);
  try {
    other.unseal(sealed, 'drives/1/ak');
  } catch (err) {
    t.notMatch((err as Error).message, /do not leak/, 'errors never carry the secret');
  }
});

t.test('a systemd credential wins over stateDir and is used as the key', async (t) => {
  const stateDir = tempDir(t);
  const credentialsDir = tempDir(t);
  const key = randomBytes(32);
  writeFileSync(join(credentialsDir, 'seal.key'), key, { mode: 0o400 });
  const sealed = openSealer({ stateDir, credentialsDir }).seal(secret(), 'mk');
  t.notOk(existsSync(join(stateDir, 'seal.key')), 'no stateDir key made');
  // Format: 0x01 | nonce(12) | ciphertext | tag(16), AAD names the label.
  t.equal(sealed[0], 1);
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
  d.setAAD(Buffer.from('ekmd-seal-v1\0mk'));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  t.same(Buffer.concat([d.update(sealed.subarray(13, sealed.length - 16)), d.final()]), secret());
  const emptyCreds = tempDir(t);
  openSealer({ stateDir, credentialsDir: emptyCreds });
  t.ok(existsSync(join(stateDir, 'seal.key')), 'without a credential the stateDir key is used');
});

t.test('an exposed or malformed seal key is refused without being changed', async (t) => {
  const stateDir = tempDir(t);
  const path = join(stateDir, 'seal.key');
  writeFileSync(path, randomBytes(32), { mode: 0o644 });
  chmodSync(path, 0o644);
  t.throws(() => openSealer({ stateDir }), /open to group or others \(mode 644\)/);
  t.equal(statSync(path).mode & 0o777, 0o644);
  writeFileSync(path, randomBytes(16), { mode: 0o600 });
  chmodSync(path, 0o600);
  t.throws(() => openSealer({ stateDir }), /exactly 32 bytes/);
  t.equal(readFileSync(path).length, 16);
  t.throws(() => openSealer({ stateDir: join(stateDir, 'missing') }), /cannot create seal key/);
});

t.test('processes racing to create the seal key end up with one key', async (t) => {
  const stateDir = tempDir(t);
  const sealModule = require.resolve('../../src/store/seal');
  const script =
    `const s = require(${JSON.stringify(sealModule)}).openSealer({ stateDir: process.argv[1] });` +
    `process.stdout.write(s.seal(Buffer.from('race'), 'race').toString('base64'));`;
  const runs = [0, 1, 2].map(
    () =>
      new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['-e', script, stateDir], (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        );
      }),
  );
  const blobs = await Promise.all(runs);
  const sealer = openSealer({ stateDir });
  for (const blob of blobs) {
    t.same(sealer.unseal(Buffer.from(blob, 'base64'), 'race'), Buffer.from('race'));
  }
  t.same(readdirSync(stateDir), ['seal.key'], 'no temporary files left');
});
