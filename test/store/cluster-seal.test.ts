// The cluster sealing key's blob format (0x02: generation and label authenticated), the
// keyring a node keeps in its stateDir (each generation sealed under seal.key, 0600), and
// the sealer cluster code uses: CSK blobs and the node's own 0x01 blobs both unseal.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  blobGeneration,
  ClusterKeySealer,
  CskKeyring,
  sealWithCsk,
  unsealWithCsk,
} from '../../src/store/cluster-seal';
import { openSealer, SealError } from '../../src/store';
import { tempDir } from './tmpdir';

const plain = () => Buffer.from('an internal drive key, 32 bytes!');

t.test('a CSK blob names its generation and binds its label and generation', async (t) => {
  const key = randomBytes(32);
  const sealed = sealWithCsk(key, 7, plain(), 'keys/a/driveAuthenticationKey');
  t.equal(sealed[0], 0x02);
  t.equal(blobGeneration(sealed), 7);
  t.same(unsealWithCsk(key, sealed, 'keys/a/driveAuthenticationKey'), plain());
  t.throws(() => unsealWithCsk(key, sealed, 'keys/b/driveAuthenticationKey'), SealError);
  t.throws(() => unsealWithCsk(randomBytes(32), sealed, 'keys/a/driveAuthenticationKey'), {
    message: /wrong cluster sealing key/,
  });
  const relabelled = Buffer.from(sealed);
  relabelled.writeUInt32BE(8, 1);
  t.throws(() => unsealWithCsk(key, relabelled, 'keys/a/driveAuthenticationKey'), SealError);
  t.equal(blobGeneration(openSealer({ stateDir: tempDir(t) }).seal(plain(), 'x')), undefined);
});

t.test('the keyring keeps generations sealed under seal.key, never in the clear', async (t) => {
  const dir = tempDir(t);
  const local = openSealer({ stateDir: dir });
  const ring = CskKeyring.open(dir, local);
  t.same(ring.generations(), []);
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  ring.add(1, k1);
  ring.add(2, k2);
  const file = join(dir, 'cluster-seal.json');
  t.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  for (const k of [k1, k2]) {
    t.notOk(text.includes(k.toString('base64')) || text.includes(k.toString('hex')));
  }
  const again = CskKeyring.open(dir, local);
  t.same(again.generations(), [1, 2]);
  t.same(again.get(2), k2);
  t.throws(() => CskKeyring.open(dir, openSealer({ stateDir: tempDir(t) })), SealError);
  again.clear();
  t.same(CskKeyring.open(dir, local).generations(), [], 'cleared: file gone');
});

t.test(
  'the cluster sealer seals under the named generation and unseals both formats',
  async (t) => {
    const dir = tempDir(t);
    const local = openSealer({ stateDir: dir });
    const ring = CskKeyring.open(dir, local);
    let generation: number | undefined;
    const sealer = new ClusterKeySealer(local, ring, () => generation);
    const own = sealer.seal(plain(), 'l');
    t.equal(own[0], 0x01, 'no CSK yet: the local seal.key');
    generation = 1;
    t.throws(() => sealer.seal(plain(), 'l'), /does not hold the cluster sealing key/);
    ring.add(1, randomBytes(32));
    const shared = sealer.seal(plain(), 'l');
    t.equal(blobGeneration(shared), 1);
    t.same(sealer.unseal(shared, 'l'), plain());
    t.same(sealer.unseal(own, 'l'), plain(), 'an old 0x01 blob still unseals');
    const stranger = new ClusterKeySealer(local, CskKeyring.open(tempDir(t), local));
    t.throws(() => stranger.unseal(shared, 'l'), /does not hold cluster sealing key generation 1/);
  },
);
