// PIN-derived keys. PINs here are random 256-bit AKs, so one HKDF-SHA256 step is enough
// (a slow password KDF would only make unlock benchmarks meaningless). One derivation
// yields both the verifier the C_PIN row keeps and the KEK that wraps the Locking SP key.
import { hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const INFO = Buffer.from('ekmd-sim c_pin v1');
export const PIN_SALT_BYTES = 16;

export interface PinSecrets {
  /** Stored in the C_PIN row; proves a PIN without revealing it. */
  verifier: Buffer;
  /** Wraps the Locking SP key for this authority; never stored. */
  kek: Buffer;
}

export function newPinSalt(): Buffer {
  return randomBytes(PIN_SALT_BYTES);
}

export function derivePinSecrets(pin: Buffer, salt: Buffer): PinSecrets {
  const out = Buffer.from(hkdfSync('sha256', pin, salt, INFO, 64));
  const secrets = {
    verifier: Buffer.from(out.subarray(0, 32)),
    kek: Buffer.from(out.subarray(32)),
  };
  out.fill(0);
  return secrets;
}

/** Constant-time check of `pin` against a stored verifier; the KEK is returned on a match. */
export function checkPin(pin: Buffer, salt: Buffer, verifier: Buffer): Buffer | null {
  const { verifier: v, kek } = derivePinSecrets(pin, salt);
  const ok = v.length === verifier.length && timingSafeEqual(v, verifier);
  v.fill(0);
  if (ok) return kek;
  kek.fill(0);
  return null;
}
