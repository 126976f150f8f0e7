// AES-256-GCM sealing of small secrets (key wraps, volatile snapshots). Layout of a sealed
// blob: iv (12) | tag (16) | ciphertext. The AAD binds a blob to what it wraps, so a wrap
// copied to another range or drive fails to open instead of decrypting to the wrong key.
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';

const IV = 12;
const TAG = 16;

// IVs are public: drawing them from a refilled pool saves a syscall per seal, which
// matters when every unlock journals a sealed snapshot.
const ivPool = Buffer.alloc(IV * 256);
let ivUsed = ivPool.length;

function nextIv(): Buffer {
  if (ivUsed === ivPool.length) {
    randomFillSync(ivPool);
    ivUsed = 0;
  }
  ivUsed += IV;
  return Buffer.from(ivPool.subarray(ivUsed - IV, ivUsed));
}

export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = nextIv();
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
