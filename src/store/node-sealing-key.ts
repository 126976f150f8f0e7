// A node's X25519 key pair, to which the cluster sealing key is wrapped when the node is
// added: the public key is published in its pending record; the private key stays in
// stateDir, sealed under the local seal.key (0600). A grant is an ephemeral X25519 key
// agreement with the node's public key, HKDF-SHA256 over a context naming the cluster, the
// node and the generation, then AES-256-GCM: the store holds only what this node's private
// key opens.
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file';
import { gcmOpen, gcmSeal, NONCE_BYTES, TAG_BYTES } from './aes-gcm';
import { SealError, type Sealer } from './seal';
import { NODE_SEALING_KEY_FILE } from './state-files';

const LABEL = 'node-sealing-key/x25519';
const GRANT_V1 = 0x01;
const RAW_KEY_BYTES = 32;

export interface NodeSealingKey {
  /** SPKI DER, base64: what the node publishes. */
  publicKey: string;
  privateKey: KeyObject;
}

/** The node's key pair, made (atomically, 0600) at the first call. */
export function nodeSealingKey(stateDir: string, local: Sealer): NodeSealingKey {
  const path = join(stateDir, NODE_SEALING_KEY_FILE);
  let der: Buffer | undefined;
  try {
    der = local.unseal(readFileSync(path), LABEL);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!der) {
    const { privateKey } = generateKeyPairSync('x25519');
    der = privateKey.export({ format: 'der', type: 'pkcs8' });
    writeFileAtomic(path, local.seal(der, LABEL), 0o600);
  }
  try {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey(privateKey)
      .export({ format: 'der', type: 'spki' })
      .toString('base64');
    return { publicKey, privateKey };
  } finally {
    der.fill(0);
  }
}

function wrappingKey(shared: Buffer, salt: Buffer, context: string): Buffer {
  const key = Buffer.from(hkdfSync('sha256', shared, salt, info(context), 32));
  shared.fill(0);
  return key;
}

const info = (context: string): Buffer => Buffer.from(`ekmd-csk-grant-v1\0${context}`, 'utf8');

const rawPublic = (key: KeyObject): Buffer =>
  Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');

/** `secret` wrapped to the holder of `publicKey` (SPKI DER base64), bound to `context`. */
export function wrapToNode(secret: Buffer, publicKey: string, context: string): Buffer {
  let recipient: KeyObject;
  try {
    recipient = createPublicKey({
      key: Buffer.from(publicKey, 'base64'),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw new SealError('a node sealing key is not an X25519 public key');
  }
  if (recipient.asymmetricKeyType !== 'x25519') {
    throw new SealError('a node sealing key is not an X25519 public key');
  }
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralRaw = rawPublic(ephemeral.publicKey);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const key = wrappingKey(shared, Buffer.concat([ephemeralRaw, rawPublic(recipient)]), context);
  try {
    const { nonce, body, tag } = gcmSeal(key, info(context), secret);
    return Buffer.concat([Buffer.of(GRANT_V1), ephemeralRaw, nonce, body, tag]);
  } finally {
    key.fill(0);
  }
}

/** Opens a wrapped secret with this node's private key; the caller zeroes the result. */
export function unwrapForNode(wrapped: Buffer, own: NodeSealingKey, context: string): Buffer {
  const head = 1 + RAW_KEY_BYTES + NONCE_BYTES;
  if (wrapped.length < head + TAG_BYTES || wrapped[0] !== GRANT_V1) {
    throw new SealError('a wrapped cluster sealing key is malformed');
  }
  const ephemeralRaw = wrapped.subarray(1, 1 + RAW_KEY_BYTES);
  const ephemeral = createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: ephemeralRaw.toString('base64url') },
    format: 'jwk',
  });
  const shared = diffieHellman({ privateKey: own.privateKey, publicKey: ephemeral });
  const ownRaw = Buffer.from(own.publicKey, 'base64').subarray(-RAW_KEY_BYTES);
  const key = wrappingKey(shared, Buffer.concat([ephemeralRaw, ownRaw]), context);
  const parts = {
    nonce: wrapped.subarray(1 + RAW_KEY_BYTES, head),
    body: wrapped.subarray(head, wrapped.length - TAG_BYTES),
    tag: wrapped.subarray(wrapped.length - TAG_BYTES),
  };
  try {
    return gcmOpen(
      key,
      info(context),
      parts,
      () => new SealError('cannot unwrap the cluster sealing key: not wrapped to this node'),
    );
  } finally {
    key.fill(0);
  }
}
