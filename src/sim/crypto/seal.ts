// AES-256-GCM sealing of small secrets (key wraps, volatile snapshots). Layout of a sealed
// blob: iv (12) | tag (16) | ciphertext. The AAD binds a blob to what it wraps, so a wrap
// copied to another range or drive fails to open instead of decrypting to the wrong key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV = 12;
const TAG = 16;

export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]);
}

/** The plaintext, or null when the blob is torn, tampered with, or sealed under another key. */
export function open(key: Buffer, blob: Buffer, aad: string): Buffer | null {
  if (blob.length < IV + TAG) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(blob.subarray(IV, IV + TAG));
    return Buffer.concat([d.update(blob.subarray(IV + TAG)), d.final()]);
  } catch {
    return null;
  }
}
