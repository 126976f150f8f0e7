// AES-256-XTS per 512-byte block, tweak = LBA (little-endian, as dm-crypt's plain64 IV).
// Used twice: the drive's media encryption and, above it, the software-encryption DEK.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const BLOCK_SIZE = 512;
/** AES-256-XTS takes two 256-bit keys; OpenSSL refuses equal halves. */
export const XTS_KEY_BYTES = 64;

export function newXtsKey(): Buffer {
  for (;;) {
    const key = randomBytes(XTS_KEY_BYTES);
    if (halvesDiffer(key)) return key;
  }
}

export function halvesDiffer(key: Buffer): boolean {
  return key.length === XTS_KEY_BYTES && !key.subarray(0, 32).equals(key.subarray(32));
}

function tweak(lba: number): Buffer {
  const t = Buffer.alloc(16);
  t.writeBigUInt64LE(BigInt(lba));
  return t;
}

export function xtsEncrypt(key: Buffer, lba: number, block: Buffer): Buffer {
  const c = createCipheriv('aes-256-xts', key, tweak(lba));
  return Buffer.concat([c.update(block), c.final()]);
}

export function xtsDecrypt(key: Buffer, lba: number, block: Buffer): Buffer {
  const d = createDecipheriv('aes-256-xts', key, tweak(lba));
  return Buffer.concat([d.update(block), d.final()]);
}
