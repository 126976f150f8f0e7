// Shamir's secret sharing over GF(256), the AES field (x^8 + x^4 + x^3 + x + 1, 0x11b), one
// polynomial per secret byte. A share is its y bytes followed by its x coordinate (1..255),
// the layout HashiCorp Vault's shamir package uses. Any `threshold` shares give the secret
// back; fewer say nothing about it (every secret is as likely), so shares are secrets
// themselves: callers zero them after use.
import { randomBytes } from 'node:crypto';

/** Bad arguments or shares that cannot belong together; it never quotes a share. */
export class ShamirError extends Error {
  override name = 'ShamirError';
}

// Exponent and logarithm tables for the generator 0x03, so that a product is two look-ups.
// Built by multiplication, not by table, so they cannot disagree with the field.
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let value = 1;
  for (let power = 0; power < 255; power++) {
    EXP[power] = value;
    EXP[power + 255] = value;
    LOG[value] = power;
    value ^= xtime(value); // value × 3 = value × 2 + value
  }
}

/** value × x, reduced by the AES polynomial (FIPS-197 §4.2.1). */
function xtime(value: number): number {
  return ((value << 1) ^ (value & 0x80 ? 0x1b : 0)) & 0xff;
}

/** a × b in GF(256). */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

/** a ÷ b in GF(256); b must not be 0. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new ShamirError('division by zero in GF(256)');
  if (a === 0) return 0;
  return EXP[LOG[a]! + 255 - LOG[b]!]!;
}

/** The random source: `randomBytes` unless a test fixes the coefficients. */
export type CoefficientSource = (count: number) => Buffer;

/**
 * Splits `secret` into `count` shares (x = 1..count) of which any `threshold` reconstruct it.
 * The coefficients are zeroed before returning; the caller owns (and zeroes) the shares.
 */
export function split(
  secret: Uint8Array,
  count: number,
  threshold = 2,
  random: CoefficientSource = randomBytes,
): Buffer[] {
  if (secret.length === 0) throw new ShamirError('the secret is empty');
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > 255)
    throw new ShamirError('the threshold must be 2 to 255');
  if (!Number.isInteger(count) || count < threshold || count > 255)
    throw new ShamirError('the share count must be from the threshold to 255');
  const length = secret.length;
  // coefficients[(d - 1) * length + i]: the degree-d coefficient of byte i's polynomial
  const coefficients = random((threshold - 1) * length);
  if (coefficients.length !== (threshold - 1) * length)
    throw new ShamirError('the random source gave the wrong number of bytes');
  try {
    const shares: Buffer[] = [];
    for (let x = 1; x <= count; x++) {
      const share = Buffer.alloc(length + 1);
      for (let i = 0; i < length; i++) {
        // Horner's rule from the highest degree down to the secret byte
        let y = 0;
        for (let degree = threshold - 1; degree >= 1; degree--)
          y = gfMul(y, x) ^ coefficients[(degree - 1) * length + i]!;
        share[i] = gfMul(y, x) ^ secret[i]!;
      }
      share[length] = x;
      shares.push(share);
    }
    return shares;
  } finally {
    coefficients.fill(0);
  }
}

/**
 * The secret the shares were split from, given at least the threshold of them (more are
 * fine). Fewer give a wrong secret that no check here can notice: the caller authenticates
 * what it reconstructs (a key check value, an AEAD tag). The caller zeroes the result.
 */
export function combine(shares: readonly Uint8Array[]): Buffer {
  if (shares.length < 2) throw new ShamirError('at least two shares are needed');
  if (shares.length > 255) throw new ShamirError('at most 255 shares are combined');
  const size = shares[0]!.length;
  if (size < 2) throw new ShamirError('a share is too short');
  const xs = shares.map((share) => {
    if (share.length !== size) throw new ShamirError('the shares differ in length');
    return share[size - 1]!;
  });
  if (xs.includes(0)) throw new ShamirError('a share has x coordinate 0');
  if (new Set(xs).size !== xs.length) throw new ShamirError('two shares have the same x');

  // Lagrange's basis at 0: weight_j = Π_{m≠j} x_m / (x_m − x_j); subtraction is XOR.
  const weights = xs.map((xj, j) => {
    let weight = 1;
    xs.forEach((xm, m) => {
      if (m !== j) weight = gfMul(weight, gfDiv(xm, xm ^ xj));
    });
    return weight;
  });
  const secret = Buffer.alloc(size - 1);
  for (let i = 0; i < secret.length; i++) {
    let value = 0;
    shares.forEach((share, j) => (value ^= gfMul(share[i]!, weights[j]!)));
    secret[i] = value;
  }
  return secret;
}
