// Binary TTLV decoder: one cursor over the input, no copies (Byte String values are
// views into the input buffer), every length checked against its type and the
// enclosing structure before anything is allocated.
import { isUtf8 } from 'node:buffer';
import { TtlvError } from './error';
import { ItemType, type BigIntItem, type NumberItem, type TtlvItem } from './item';
import { T } from './item-code';

export interface DecodeOptions {
  /** Deepest structure nesting accepted; the top-level structure is depth 1. Default 32. */
  maxDepth?: number;
  /** Largest message accepted, in bytes. Default 1 MiB. */
  maxBytes?: number;
}

export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_BYTES = 1024 * 1024;
/** Hard ceiling on maxDepth: recursion deeper than this would risk the stack. */
const MAX_DEPTH_CEILING = 1024;

/**
 * Length of the whole TTLV message whose first 8 bytes are `header`, checked against
 * `maxBytes` so a stream reader can refuse before buffering the rest.
 */
export function ttlvMessageLength(header: Buffer, maxBytes = DEFAULT_MAX_BYTES): number {
  if (header.length < 8) throw new TtlvError('truncated item header', 0);
  const tag = (header[0]! << 16) | (header[1]! << 8) | header[2]!;
  if (header[3] !== ItemType.Structure) {
    throw new TtlvError(`message is type 0x${hex2(header[3]!)}, not a Structure`, 0, tag);
  }
  const total = header.readUInt32BE(4) + 8;
  if (total > maxBytes) {
    throw new TtlvError(`message of ${total} bytes exceeds the ${maxBytes}-byte limit`, 0, tag);
  }
  if (total % 8 !== 0) throw new TtlvError('structure length is not a multiple of 8', 0, tag);
  return total;
}

/** Decode exactly one TTLV item filling all of `buf`. Throws TtlvError only. */
export function decodeTtlv(buf: Buffer, opts?: DecodeOptions): TtlvItem {
  const maxDepth = opts?.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH_CEILING) {
    throw new TtlvError(`maxDepth must be an integer from 1 to ${MAX_DEPTH_CEILING}`);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 8) {
    throw new TtlvError('maxBytes must be an integer of at least 8');
  }
  if (!Buffer.isBuffer(buf)) throw new TtlvError('input is not a Buffer');
  if (buf.length > maxBytes) {
    throw new TtlvError(`message of ${buf.length} bytes exceeds the ${maxBytes}-byte limit`, 0);
  }
  // The cursor lives in module state: decoding is synchronous and never re-entered.
  input = buf;
  pos = 0;
  depthLimit = maxDepth;
  try {
    const item = decodeItem(buf.length, 0);
    if (pos !== buf.length) {
      throw new TtlvError(`${buf.length - pos} trailing bytes after the message`, pos);
    }
    return item;
  } finally {
    input = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);
let input: Buffer = EMPTY;
let pos = 0;
let depthLimit = DEFAULT_MAX_DEPTH;

// Bound once: Buffer#toString re-validates its arguments on every call.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(s: number, e: number): string })
  .latin1Slice;

/** Decode the item at `pos`, which must end by `end`; `depth` = enclosing structures. */
function decodeItem(end: number, depth: number): TtlvItem {
  const b = input;
  const start = pos;
  if (end - start < 8) {
    const tag = end - start >= 3 ? (b[start]! << 16) | (b[start + 1]! << 8) | b[start + 2]! : -1;
    throw new TtlvError('truncated item header', start, tag);
  }
  const tag = (b[start]! << 16) | (b[start + 1]! << 8) | b[start + 2]!;
  const type: number = b[start + 3]!;
  const len =
    ((b[start + 4]! << 24) | (b[start + 5]! << 16) | (b[start + 6]! << 8) | b[start + 7]!) >>> 0;
  const v = start + 8;
  const room = end - v;
  switch (type as T) {
    case T.Structure: {
      if ((len & 7) !== 0)
        throw new TtlvError('structure length is not a multiple of 8', start, tag);
      if (len > room) throw overrun(start, tag, len, room);
      if (depth >= depthLimit) {
        throw new TtlvError(`structures nest deeper than ${depthLimit}`, start, tag);
      }
      const vend = v + len;
      const children: TtlvItem[] = [];
      pos = v;
      while (pos < vend) children.push(decodeItem(vend, depth + 1));
      return { tag, type: ItemType.Structure, value: children };
    }
    case T.Integer:
    case T.Enumeration:
    case T.Interval: {
      fixedLength(start, tag, type, len, 4, room);
      if ((b[v + 4]! | b[v + 5]! | b[v + 6]! | b[v + 7]!) !== 0) throw badPadding(v + 4, tag);
      pos = v + 8;
      const word = (b[v]! << 24) | (b[v + 1]! << 16) | (b[v + 2]! << 8) | b[v + 3]!;
      return {
        tag,
        type: type as NumberItem['type'],
        value: type === T.Integer ? word : word >>> 0,
      };
    }
    case T.LongInteger:
    case T.DateTime:
    case T.DateTimeExtended: {
      fixedLength(start, tag, type, len, 8, room);
      pos = v + 8;
      const hi = (b[v]! << 24) | (b[v + 1]! << 16) | (b[v + 2]! << 8) | b[v + 3]!;
      const lo = ((b[v + 4]! << 24) | (b[v + 5]! << 16) | (b[v + 6]! << 8) | b[v + 7]!) >>> 0;
      // Within ±2^53 one BigInt from an exact double is cheaper than shifting two.
      const value =
        hi >= -0x200000 && hi < 0x200000
          ? BigInt(hi * 0x100000000 + lo)
          : (BigInt(hi) << 32n) | BigInt(lo);
      return { tag, type: type as BigIntItem['type'], value };
    }
    case T.Boolean: {
      fixedLength(start, tag, type, len, 8, room);
      if (
        (b[v]! | b[v + 1]! | b[v + 2]! | b[v + 3]! | b[v + 4]! | b[v + 5]! | b[v + 6]!) !== 0 ||
        b[v + 7]! > 1
      ) {
        throw new TtlvError('Boolean value is neither 0 nor 1', v, tag);
      }
      pos = v + 8;
      return { tag, type: ItemType.Boolean, value: b[v + 7] === 1 };
    }
    case T.BigInteger: {
      if (len === 0 || (len & 7) !== 0) {
        throw new TtlvError('Big Integer length is not a positive multiple of 8', start, tag);
      }
      if (len > room) throw overrun(start, tag, len, room);
      pos = v + len;
      return { tag, type: ItemType.BigInteger, value: bigFromBytes(b, v, v + len) };
    }
    case T.TextString:
    case T.ByteString: {
      const padded = len + ((8 - (len & 7)) & 7); // not `& ~7`: len may exceed 2^31
      if (len > room || padded > room) throw overrun(start, tag, padded, room);
      const vend = v + len;
      for (let i = vend; i < v + padded; i++) if (b[i] !== 0) throw badPadding(i, tag);
      pos = v + padded;
      if (type === T.ByteString)
        return { tag, type: ItemType.ByteString, value: b.subarray(v, vend) };
      return { tag, type: ItemType.TextString, value: utf8(b, v, vend, tag) };
    }
    default:
      throw new TtlvError(`unknown item type 0x${hex2(type)}`, start, tag);
  }
}

function fixedLength(
  start: number,
  tag: number,
  type: number,
  len: number,
  want: number,
  room: number,
): void {
  if (len !== want)
    throw new TtlvError(`${ItemType[type]} length ${len}, expected ${want}`, start, tag);
  if (room < 8) throw overrun(start, tag, 8, room);
}

function overrun(start: number, tag: number, need: number, room: number): TtlvError {
  return new TtlvError(
    `item needs ${need} value bytes but only ${room} remain in its container`,
    start,
    tag,
  );
}

function badPadding(at: number, tag: number): TtlvError {
  return new TtlvError('non-zero padding byte', at, tag);
}

/** Text String value; refuses malformed UTF-8 rather than inventing U+FFFD. */
function utf8(b: Buffer, start: number, end: number, tag: number): string {
  let i = start;
  while (i < end && b[i]! < 0x80) i++;
  if (i === end) {
    // Most KMIP text is a short ASCII identifier ("1", "42"): building those directly
    // skips a native call per string.
    switch (end - start) {
      case 0:
        return '';
      case 1:
        return String.fromCharCode(b[start]!);
      case 2:
        return String.fromCharCode(b[start]!, b[start + 1]!);
      case 3:
        return String.fromCharCode(b[start]!, b[start + 1]!, b[start + 2]!);
      case 4:
        return String.fromCharCode(b[start]!, b[start + 1]!, b[start + 2]!, b[start + 3]!);
      default:
        return latin1Slice.call(b, start, end);
    }
  }
  if (!isUtf8(b.subarray(start, end))) {
    throw new TtlvError('Text String is not valid UTF-8', start - 8, tag);
  }
  return b.toString('utf8', start, end);
}

/** Two's-complement big-endian bytes to a bigint. */
function bigFromBytes(b: Buffer, start: number, end: number): bigint {
  const v = BigInt('0x' + b.toString('hex', start, end));
  return b[start]! & 0x80 ? v - (1n << BigInt((end - start) * 8)) : v;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
