// AES-256-GCM as every sealed blob uses it (seal.key blobs, cluster-key blobs, key grants):
// a fresh 12-byte nonce, authenticated data, a 16-byte tag. The layouts around it differ;
// the cipher work and the zeroing of intermediate plaintext are here once.
import { createCipheriv, createDecipheriv, randomBytes, type CipherKey } from 'node:crypto';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export interface GcmParts {
  nonce: Buffer;
  body: Buffer;
  tag: Buffer;
}

/** Encrypts `plain` under a new nonce; the caller still owns (and zeroes) `plain`. */
export function gcmSeal(key: CipherKey, aad: Buffer, plain: Buffer): GcmParts {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { nonce, body, tag: cipher.getAuthTag() };
}

/**
 * Decrypts and authenticates; the caller zeroes the result. Any failure (wrong key, data or
 * authenticated data) is `fail()`'s error, which must not quote the data.
 */
export function gcmOpen(key: CipherKey, aad: Buffer, parts: GcmParts, fail: () => Error): Buffer {
  let head: Buffer | undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, parts.nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(parts.tag);
    head = decipher.update(parts.body);
    const tail = decipher.final();
    const plain = Buffer.concat([head, tail]);
    tail.fill(0);
    return plain;
  } catch {
    throw fail();
  } finally {
    head?.fill(0);
  }
}

/**
 * The parts of a framed blob (one format byte, nonce, body, tag) as views into it;
 * undefined when it is too short or carries another format byte.
 */
export function framedParts(blob: Buffer, format: number): GcmParts | undefined {
  if (blob.length < 1 + NONCE_BYTES + TAG_BYTES || blob[0] !== format) return undefined;
  return {
    nonce: blob.subarray(1, 1 + NONCE_BYTES),
    body: blob.subarray(1 + NONCE_BYTES, blob.length - TAG_BYTES),
    tag: blob.subarray(blob.length - TAG_BYTES),
  };
}
