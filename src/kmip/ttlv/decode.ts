// Binary TTLV decoder: one cursor over the input, no copies (Byte String values are
// views into the input buffer), every length checked against its type and the
// enclosing structure before anything is allocated.
import { isUtf8 } from 'node:buffer';
import { TtlvError } from './error';
import { ItemType, type TtlvItem } from './item';

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
  const d = new Decoder(buf, maxDepth);
  const item = d.item(buf.length, 0);
  if (d.pos !== buf.length) {
    throw new TtlvError(`${buf.length - d.pos} trailing bytes after the message`, d.pos);
  }
  return item;
}

class Decoder {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly maxDepth: number,
  ) {}

  /** Decode the item at `pos`, which must end by `end`; `depth` = enclosing structures. */
  item(end: number, depth: number): TtlvItem {
    const buf = this.buf;
    const start = this.pos;
    if (end - start < 8) {
      const tag =
        end - start >= 3 ? (buf[start]! << 16) | (buf[start + 1]! << 8) | buf[start + 2]! : -1;
      throw new TtlvError('truncated item header', start, tag);
    }
    const tag = (buf[start]! << 16) | (buf[start + 1]! << 8) | buf[start + 2]!;
    const type = buf[start + 3]!;
    const len = buf.readUInt32BE(start + 4);
    const vstart = start + 8;
    const room = end - vstart;
    switch (type) {
      case ItemType.Structure: {
        if (len % 8 !== 0)
          throw new TtlvError('structure length is not a multiple of 8', start, tag);
        if (len > room) throw this.overrun(start, tag, len, room);
        if (depth + 1 > this.maxDepth) {
          throw new TtlvError(`structures nest deeper than ${this.maxDepth}`, start, tag);
        }
        const vend = vstart + len;
        const children: TtlvItem[] = [];
        this.pos = vstart;
        while (this.pos < vend) children.push(this.item(vend, depth + 1));
        return { tag, type: ItemType.Structure, value: children };
      }
      case ItemType.Integer:
      case ItemType.Enumeration:
      case ItemType.Interval: {
        this.fixed(start, tag, len, 4, room);
        if (buf.readUInt32BE(vstart + 4) !== 0) throw this.badPadding(vstart + 4, tag);
        this.pos = vstart + 8;
        const value =
          type === ItemType.Integer ? buf.readInt32BE(vstart) : buf.readUInt32BE(vstart);
        return { tag, type, value };
      }
      case ItemType.LongInteger:
      case ItemType.DateTime:
      case ItemType.DateTimeExtended: {
        this.fixed(start, tag, len, 8, room);
        this.pos = vstart + 8;
        return { tag, type, value: buf.readBigInt64BE(vstart) };
      }
      case ItemType.Boolean: {
        this.fixed(start, tag, len, 8, room);
        if (
          buf.readUInt32BE(vstart) !== 0 ||
          buf[vstart + 4] !== 0 ||
          buf[vstart + 5] !== 0 ||
          buf[vstart + 6] !== 0 ||
          buf[vstart + 7]! > 1
        ) {
          throw new TtlvError('Boolean value is neither 0 nor 1', vstart, tag);
        }
        this.pos = vstart + 8;
        return { tag, type, value: buf[vstart + 7] === 1 };
      }
      case ItemType.BigInteger: {
        if (len === 0 || len % 8 !== 0) {
          throw new TtlvError('Big Integer length is not a positive multiple of 8', start, tag);
        }
        if (len > room) throw this.overrun(start, tag, len, room);
        this.pos = vstart + len;
        return { tag, type, value: bigFromBytes(buf, vstart, vstart + len) };
      }
      case ItemType.TextString:
      case ItemType.ByteString: {
        const padded = (len + 7) & ~7;
        if (len > room || padded > room) throw this.overrun(start, tag, padded, room);
        const vend = vstart + len;
        for (let i = vend; i < vstart + padded; i++) {
          if (buf[i] !== 0) throw this.badPadding(i, tag);
        }
        this.pos = vstart + padded;
        if (type === ItemType.ByteString) {
          return { tag, type, value: buf.subarray(vstart, vend) };
        }
        return { tag, type, value: utf8(buf, vstart, vend, tag) };
      }
      default:
        throw new TtlvError(`unknown item type 0x${hex2(type)}`, start, tag);
    }
  }

  private fixed(start: number, tag: number, len: number, want: number, room: number): void {
    if (len !== want) {
      throw new TtlvError(
        `${ItemType[this.buf[start + 3]!]} length ${len}, expected ${want}`,
        start,
        tag,
      );
    }
    if (room < 8) throw this.overrun(start, tag, 8, room);
  }

  private overrun(start: number, tag: number, need: number, room: number): TtlvError {
    return new TtlvError(
      `item needs ${need} value bytes but only ${room} remain in its container`,
      start,
      tag,
    );
  }

  private badPadding(at: number, tag: number): TtlvError {
    return new TtlvError('non-zero padding byte', at, tag);
  }
}

/** Text String value; refuses malformed UTF-8 rather than inventing U+FFFD. */
function utf8(buf: Buffer, start: number, end: number, tag: number): string {
  let i = start;
  while (i < end && buf[i]! < 0x80) i++;
  if (i === end) return buf.toString('latin1', start, end);
  if (!isUtf8(buf.subarray(start, end))) {
    throw new TtlvError('Text String is not valid UTF-8', start - 8, tag);
  }
  return buf.toString('utf8', start, end);
}

/** Two's-complement big-endian bytes to a bigint. */
function bigFromBytes(buf: Buffer, start: number, end: number): bigint {
  const v = BigInt('0x' + buf.toString('hex', start, end));
  return buf[start]! & 0x80 ? v - (1n << BigInt((end - start) * 8)) : v;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
