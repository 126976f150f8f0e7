// A node's X25519 key pair (the private key sealed under seal.key in its stateDir) and the
// grants wrapped to it: only that node, with the same context, unwraps.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openSealer, SealError } from '../../src/store';
import { nodeSealingKey, unwrapForNode, wrapToNode } from '../../src/store/node-sealing-key';
import { tempDir } from './tmpdir';

t.test('the key pair is made once, kept sealed, and the same at the next start', async (t) => {
  const dir = tempDir(t);
  const local = openSealer({ stateDir: dir });
  const a = nodeSealingKey(dir, local);
  const b = nodeSealingKey(dir, local);
  t.equal(a.publicKey, b.publicKey);
  const file = join(dir, 'node-sealing.key.sealed');
  t.equal(statSync(file).mode & 0o777, 0o600);
  const der = a.privateKey.export({ format: 'der', type: 'pkcs8' });
  t.notOk(readFileSync(file).includes(der.subarray(-32)), 'the private key is not in the clear');
});

t.test('a wrapped key opens with the right node and context only', async (t) => {
  const local = openSealer({ stateDir: tempDir(t) });
  const dirA = tempDir(t);
  const a = nodeSealingKey(dirA, local);
  const b = nodeSealingKey(tempDir(t), local);
  const csk = randomBytes(32);
  const wrapped = wrapToNode(csk, a.publicKey, 'cluster=c\0node=2\0generation=1');
  t.notOk(wrapped.includes(csk), 'the key is not in the wrapping');
  t.same(unwrapForNode(wrapped, a, 'cluster=c\0node=2\0generation=1'), csk);
  t.throws(() => unwrapForNode(wrapped, b, 'cluster=c\0node=2\0generation=1'), {
    message: /not wrapped to this node/,
  });
  t.throws(() => unwrapForNode(wrapped, a, 'cluster=c\0node=3\0generation=1'), SealError);
  const tampered = Buffer.from(wrapped);
  tampered[tampered.length - 20]! ^= 1;
  t.throws(() => unwrapForNode(tampered, a, 'cluster=c\0node=2\0generation=1'), SealError);
  t.throws(() => unwrapForNode(Buffer.from('short'), a, 'x'), /malformed/);
  t.throws(() => wrapToNode(csk, Buffer.from('not a key').toString('base64'), 'x'), {
    message: /not an X25519 public key/,
  });
});
