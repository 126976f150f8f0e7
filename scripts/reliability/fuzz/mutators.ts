// Deterministic mutators over byte strings, TTLV-aware where that finds more: each takes
// an input (never changed) and the Rng, and returns a new buffer.
import type { Rng } from './rng';

export type Mutator = (input: Buffer, rng: Rng) => Buffer;

/** Values that sit on the edges decoders get wrong. */
const INTERESTING_BYTES = [0x00, 0x01, 0x07, 0x08, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_LENGTHS = [
  0, 1, 4, 7, 8, 9, 15, 16, 0x7fff, 0xffff, 0x7ffffff8, 0x7fffffff, 0x80000000, 0xfffffff8,
  0xffffffff,
];

/** Flip 1..4 random bits. */
export const bitFlip: Mutator = (input, rng) => {
  const out = Buffer.from(input);
  if (out.length === 0) return out;
  for (let n = rng.range(1, 4); n > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return out;
};

/** Set 1..4 random bytes to edge values or random ones. */
export const byteSet: Mutator = (input, rng) => {
  const out = Buffer.from(input);
  if (out.length === 0) return out;
  for (let n = rng.range(1, 4); n > 0; n--) {
    out[rng.int(out.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
  }
  return out;
};

/** Cut the input short, often at an item boundary (a multiple of 8). */
export const truncate: Mutator = (input, rng) => {
  if (input.length === 0) return input;
  const at = rng.int(input.length);
  return Buffer.from(input.subarray(0, rng.chance(0.5) ? at & ~7 : at));
};

/** Append 1..64 random or zero bytes. */
export const extend: Mutator = (input, rng) => {
  const n = rng.range(1, 64);
  return Buffer.concat([input, rng.chance(0.5) ? rng.bytes(n) : Buffer.alloc(n)]);
};

/** Header offsets of the seeds, walked once rather than on every mutation. */
const knownHeaders = new WeakMap<Buffer, number[]>();

/** Remember the header offsets of a buffer that will be mutated many times. */
export function rememberTtlvHeaders(buf: Buffer): void {
  knownHeaders.set(buf, ttlvHeaderOffsets(buf));
}

/** Offsets of every item header in a well-formed TTLV message (best effort on others). */
export function ttlvHeaderOffsets(buf: Buffer): number[] {
  const known = knownHeaders.get(buf);
  if (known) return known;
  const offsets: number[] = [];
  const walk = (start: number, end: number): void => {
    let pos = start;
    while (pos + 8 <= end && offsets.length < 4096) {
      offsets.push(pos);
      const type = buf[pos + 3]!;
      const len = buf.readUInt32BE(pos + 4);
      if (type === 1) {
        walk(pos + 8, Math.min(end, pos + 8 + len));
        pos += 8 + len;
      } else pos += 8 + len + ((8 - (len & 7)) & 7);
    }
  };
  walk(0, buf.length);
  return offsets;
}

/** Rewrite the length field of one item header: an edge value, or off by a little. */
export const corruptLength: Mutator = (input, rng) => {
  const headers = ttlvHeaderOffsets(input);
  if (headers.length === 0) return bitFlip(input, rng);
  const out = Buffer.from(input);
  const at = rng.pick(headers) + 4;
  const old = out.readUInt32BE(at);
  const value = rng.chance(0.5) ? rng.pick(INTERESTING_LENGTHS) : old + rng.range(-16, 16);
  out.writeUInt32BE(value >>> 0, at);
  return out;
};

/** Claim a length far beyond the input in the outer header or in a random one. */
export const hugeLength: Mutator = (input, rng) => {
  const headers = ttlvHeaderOffsets(input);
  const out = Buffer.from(input.length >= 8 ? input : Buffer.concat([input, Buffer.alloc(8)]));
  const at = (rng.chance(0.5) || headers.length === 0 ? 0 : rng.pick(headers)) + 4;
  out.writeUInt32BE(rng.chance(0.5) ? 0xfffffff8 : (0x01000000 + rng.int(0x7f000000)) & ~7, at);
  return out;
};

/** Head of `a` joined to the tail of `b`, cut at item boundaries when possible. */
export function splice(a: Buffer, b: Buffer, rng: Rng): Buffer {
  const ha = ttlvHeaderOffsets(a);
  const hb = ttlvHeaderOffsets(b);
  const cutA = ha.length > 1 && rng.chance(0.7) ? rng.pick(ha) : rng.int(a.length + 1);
  const cutB = hb.length > 1 && rng.chance(0.7) ? rng.pick(hb) : rng.int(b.length + 1);
  return Buffer.concat([a.subarray(0, cutA), b.subarray(cutB)]);
}

/**
 * Structures nested `depth` deep with consistent lengths, the innermost holding one
 * Integer: a decoder without a depth limit recurses until the stack gives out.
 */
export function nestingBomb(depth: number, tag = 0x420001): Buffer {
  const out = Buffer.alloc(depth * 8 + 16);
  for (let i = 0; i < depth; i++) {
    out.writeUIntBE(tag, i * 8, 3);
    out[i * 8 + 3] = 1;
    out.writeUInt32BE(out.length - i * 8 - 8, i * 8 + 4);
  }
  const leaf = depth * 8;
  out.writeUIntBE(tag, leaf, 3);
  out[leaf + 3] = 2;
  out.writeUInt32BE(4, leaf + 4);
  return out;
}

/** Random bytes, half the time behind a plausible Structure header so parsing goes deeper. */
export function randomMessage(rng: Rng, maxLength = 512): Buffer {
  const body = rng.bytes(rng.int(maxLength + 1));
  if (rng.chance(0.5)) return body;
  const head = Buffer.from([0x42, 0x00, 0x7b, 0x01, 0, 0, 0, 0]);
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** The single-input mutators, for picking one at random. */
export const MUTATORS: readonly Mutator[] = [
  bitFlip,
  byteSet,
  truncate,
  extend,
  corruptLength,
  hugeLength,
];
