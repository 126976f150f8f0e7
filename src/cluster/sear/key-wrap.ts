// DEKs and their wrapping. A DEK is 64 random bytes (AES-256-XTS: two distinct halves),
// kept in the store only wrapped by the master key with AES key wrap (RFC 3394,
// OpenSSL's id-aes256-wrap). Unwrapping checks the RFC's integrity value, so a wrong
// master key fails loudly instead of producing a wrong DEK.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const MK_BYTES = 32;
export const DEK_BYTES = 64;
/** RFC 3394 default initial value. */
const IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

export class UnwrapError extends Error {
  override name = 'UnwrapError';
}

/** A fresh DEK (the caller zeroes it). */
export function newDek(): Buffer {
  for (;;) {
    const dek = randomBytes(DEK_BYTES);
    if (!dek.subarray(0, 32).equals(dek.subarray(32))) return dek;
    dek.fill(0);
  }
}

export function wrapKey(mk: Buffer, key: Buffer): Buffer {
  const cipher = createCipheriv('id-aes256-wrap', mk, IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

/** The unwrapped key (the caller zeroes it); UnwrapError when `mk` did not wrap it. */
export function unwrapKey(mk: Buffer, wrapped: Buffer, what: string): Buffer {
  const decipher = createDecipheriv('id-aes256-wrap', mk, IV);
  const parts: Buffer[] = [];
  try {
    parts.push(decipher.update(wrapped));
    parts.push(decipher.final());
    return Buffer.concat(parts);
  } catch {
    throw new UnwrapError(`${what} does not unwrap with the master key`);
  } finally {
    for (const p of parts) p.fill(0);
  }
}
