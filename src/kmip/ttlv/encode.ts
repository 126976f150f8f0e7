// Binary TTLV encoder: one pass measures every item (recording structure and string
// lengths in visiting order), a second writes the whole message into one allocation.
import { TtlvError } from './error';
import { ItemType, type TtlvItem } from './item';
import { T } from './item-code';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const TWO_53 = 2n ** 53n;
/** Deeper trees than this are refused (a cyclic tree would otherwise never end). */
const MAX_DEPTH = 1024;

// Bound once: Buffer#write re-validates its arguments on every call.
const utf8Write = (
  Buffer.prototype as unknown as { utf8Write(s: string, offset: number, len: number): number }
).utf8Write;

/** Encode one item (normally a Request/Response Message) as binary TTLV. */
export function encodeTtlv(item: TtlvItem): Buffer {
  const lengths: number[] = [];
  const total = measure(item, lengths, 0);
  const buf = Buffer.allocUnsafe(total);
  out = buf;
  pos = 0;
  next = 0;
  sizes = lengths;
  try {
    write(item);
  } finally {
    out = EMPTY;
    sizes = [];
  }
  return buf;
}

/** Encoded size of `item` (header and padding included); pushes value lengths to `lengths`. */
function measure(item: TtlvItem, lengths: number[], depth: number): number {
  const tag = item.tag;
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffff) {
    throw new TtlvError(`tag ${String(tag)} is not a 24-bit number`);
  }
  switch (item.type as number as T) {
    case T.Structure: {
      const children = item.value;
      if (!Array.isArray(children)) throw valueError(item, 'an array of items');
      if (depth >= MAX_DEPTH)
        throw new TtlvError(`structures nest deeper than ${MAX_DEPTH}`, -1, tag);
      const slot = lengths.length;
      lengths.push(0);
      let len = 0;
      for (let i = 0; i < children.length; i++) len += measure(children[i]!, lengths, depth + 1);
      if (len > 0xffffffff) throw new TtlvError('structure longer than 4 GiB', -1, tag);
      lengths[slot] = len;
      return 8 + len;
    }
    case T.Integer: {
      const v = item.value;
      if (!Number.isInteger(v) || (v as number) < -0x80000000 || (v as number) > 0x7fffffff) {
        throw valueError(item, 'a signed 32-bit integer');
      }
      return 16;
    }
    case T.Enumeration:
    case T.Interval: {
      const v = item.value;
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffffffff) {
        throw valueError(item, 'an unsigned 32-bit integer');
      }
      return 16;
    }
    case T.LongInteger:
    case T.DateTime:
    case T.DateTimeExtended: {
      const v = item.value;
      if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) {
        throw valueError(item, 'a signed 64-bit bigint');
      }
      return 16;
    }
    case T.BigInteger: {
      if (typeof item.value !== 'bigint') throw valueError(item, 'a bigint');
      const len = bigLength(item.value);
      lengths.push(len);
      return 8 + len;
    }
    case T.Boolean:
      if (typeof item.value !== 'boolean') throw valueError(item, 'a boolean');
      return 16;
    case T.TextString: {
      const s = item.value;
      if (typeof s !== 'string') throw valueError(item, 'a string');
      const len = utf8Length(s);
      lengths.push(len);
      return 8 + padded(len);
    }
    case T.ByteString: {
      if (!(item.value instanceof Uint8Array)) throw valueError(item, 'a Buffer');
      if (item.value.length > 0xffffffff) throw valueError(item, 'under 4 GiB');
      return 8 + padded(item.value.length);
    }
    default:
      throw new TtlvError(`unknown item type ${String(item.type)}`, -1, tag);
  }
}

/** `len` rounded up to a multiple of 8 (arithmetic, not `& ~7`: len may exceed 2^31). */
function padded(len: number): number {
  return len + ((8 - (len & 7)) & 7);
}

/** UTF-8 byte length; short ASCII strings (most KMIP text) skip the native call. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return n;
}

function valueError(item: TtlvItem, what: string): TtlvError {
  return new TtlvError(`${ItemType[item.type]} value must be ${what}`, -1, item.tag);
}

/** Bytes of the shortest two's-complement form of `v`, sign-extended to a multiple of 8. */
function bigLength(v: bigint): number {
  const magnitude = v < 0n ? -v - 1n : v;
  const bits = magnitude.toString(2).length + 1; // + sign bit
  return Math.ceil(bits / 64) * 8;
}

// Writer state: encoding is synchronous and never re-entered.
const EMPTY = Buffer.alloc(0);
let out: Buffer = EMPTY;
let pos = 0;
let next = 0;
let sizes: number[] = [];

function header(tag: number, type: number, len: number): void {
  const b = out;
  const p = pos;
  b[p] = tag >>> 16;
  b[p + 1] = tag >>> 8;
  b[p + 2] = tag;
  b[p + 3] = type;
  b[p + 4] = len >>> 24;
  b[p + 5] = len >>> 16;
  b[p + 6] = len >>> 8;
  b[p + 7] = len;
  pos = p + 8;
}

function word(p: number, v: number): void {
  const b = out;
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

function write(item: TtlvItem): void {
  switch (item.type as number as T) {
    case T.Structure: {
      header(item.tag, T.Structure, sizes[next++]!);
      const children = item.value as TtlvItem[];
      for (let i = 0; i < children.length; i++) write(children[i]!);
      return;
    }
    case T.Integer:
    case T.Enumeration:
    case T.Interval:
      header(item.tag, item.type, 4);
      word(pos, item.value as number);
      word(pos + 4, 0);
      pos += 8;
      return;
    case T.LongInteger:
    case T.DateTime:
    case T.DateTimeExtended: {
      header(item.tag, item.type, 8);
      const v = item.value as bigint;
      if (v < TWO_53 && v > -TWO_53) {
        const n = Number(v);
        const hi = Math.floor(n / 0x100000000);
        word(pos, hi);
        word(pos + 4, n - hi * 0x100000000);
      } else {
        out.writeBigInt64BE(v, pos);
      }
      pos += 8;
      return;
    }
    case T.Boolean:
      header(item.tag, T.Boolean, 8);
      word(pos, 0);
      word(pos + 4, item.value ? 1 : 0);
      pos += 8;
      return;
    case T.BigInteger: {
      const len = sizes[next++]!;
      header(item.tag, T.BigInteger, len);
      const v = item.value as bigint;
      const u = v < 0n ? v + (1n << BigInt(len * 8)) : v;
      out.write(u.toString(16).padStart(len * 2, '0'), pos, len, 'hex');
      pos += len;
      return;
    }
    case T.TextString: {
      const len = sizes[next++]!;
      header(item.tag, T.TextString, len);
      const s = item.value as string;
      if (len === s.length && len <= 64) {
        const b = out;
        for (let i = 0, p = pos; i < len; i++) b[p + i] = s.charCodeAt(i);
      } else {
        utf8Write.call(out, s, pos, len);
      }
      pad(len);
      return;
    }
    case T.ByteString: {
      const v = item.value as Uint8Array;
      const len = v.length;
      header(item.tag, T.ByteString, len);
      if (len <= 32) {
        const b = out;
        for (let i = 0, p = pos; i < len; i++) b[p + i] = v[i]!;
      } else {
        out.set(v, pos);
      }
      pad(len);
      return;
    }
  }
}

/** Zero the padding after a `len`-byte string value at `pos` and move past it. */
function pad(len: number): void {
  const end = pos + len;
  const stop = pos + padded(len);
  for (let i = end; i < stop; i++) out[i] = 0;
  pos = stop;
}
