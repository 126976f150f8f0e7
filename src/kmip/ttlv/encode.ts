// Binary TTLV encoder: one pass measures every item (recording structure and string
// lengths in visiting order), a second writes the whole message into one allocation.
import { TtlvError } from './error';
import { ItemType, type TtlvItem } from './item';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Encode one item (normally a Request/Response Message) as binary TTLV. */
export function encodeTtlv(item: TtlvItem): Buffer {
  const lengths: number[] = [];
  const total = measure(item, lengths, 0);
  const buf = Buffer.allocUnsafe(total);
  const w = new Writer(buf, lengths);
  w.item(item);
  return buf;
}

/** Encoded size of `item` (header and padding included); pushes value lengths to `lengths`. */
function measure(item: TtlvItem, lengths: number[], depth: number): number {
  const tag = item.tag;
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffff) {
    throw new TtlvError(`tag ${String(tag)} is not a 24-bit number`);
  }
  switch (item.type) {
    case ItemType.Structure: {
      if (!Array.isArray(item.value)) throw valueError(item, 'an array of items');
      // Recursion is bounded by the caller's tree; a cyclic tree would never end.
      if (depth > 1024) throw new TtlvError('structures nest deeper than 1024', -1, tag);
      const slot = lengths.length;
      lengths.push(0);
      let len = 0;
      for (const child of item.value) len += measure(child, lengths, depth + 1);
      if (len > 0xffffffff) throw new TtlvError('structure longer than 4 GiB', -1, tag);
      lengths[slot] = len;
      return 8 + len;
    }
    case ItemType.Integer:
      if (!Number.isInteger(item.value) || item.value < -0x80000000 || item.value > 0x7fffffff) {
        throw valueError(item, 'a signed 32-bit integer');
      }
      return 16;
    case ItemType.Enumeration:
    case ItemType.Interval:
      if (!Number.isInteger(item.value) || item.value < 0 || item.value > 0xffffffff) {
        throw valueError(item, 'an unsigned 32-bit integer');
      }
      return 16;
    case ItemType.LongInteger:
    case ItemType.DateTime:
    case ItemType.DateTimeExtended:
      if (typeof item.value !== 'bigint' || item.value < INT64_MIN || item.value > INT64_MAX) {
        throw valueError(item, 'a signed 64-bit bigint');
      }
      return 16;
    case ItemType.BigInteger: {
      if (typeof item.value !== 'bigint') throw valueError(item, 'a bigint');
      const len = bigLength(item.value);
      lengths.push(len);
      return 8 + len;
    }
    case ItemType.Boolean:
      if (typeof item.value !== 'boolean') throw valueError(item, 'a boolean');
      return 16;
    case ItemType.TextString: {
      if (typeof item.value !== 'string') throw valueError(item, 'a string');
      const len = Buffer.byteLength(item.value, 'utf8');
      lengths.push(len);
      return 8 + ((len + 7) & ~7);
    }
    case ItemType.ByteString: {
      if (!(item.value instanceof Uint8Array)) throw valueError(item, 'a Buffer');
      const len = item.value.length;
      return 8 + ((len + 7) & ~7);
    }
    default:
      throw new TtlvError(`unknown item type ${String((item as { type: unknown }).type)}`, -1, tag);
  }
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

class Writer {
  private pos = 0;
  private next = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly lengths: number[],
  ) {}

  item(item: TtlvItem): void {
    const buf = this.buf;
    let p = this.pos;
    buf[p] = item.tag >>> 16;
    buf[p + 1] = (item.tag >>> 8) & 0xff;
    buf[p + 2] = item.tag & 0xff;
    buf[p + 3] = item.type;
    p += 4;
    switch (item.type) {
      case ItemType.Structure: {
        buf.writeUInt32BE(this.lengths[this.next++]!, p);
        this.pos = p + 4;
        for (const child of item.value) this.item(child);
        return;
      }
      case ItemType.Integer:
        buf.writeUInt32BE(4, p);
        buf.writeInt32BE(item.value, p + 4);
        buf.writeUInt32BE(0, p + 8);
        this.pos = p + 12;
        return;
      case ItemType.Enumeration:
      case ItemType.Interval:
        buf.writeUInt32BE(4, p);
        buf.writeUInt32BE(item.value, p + 4);
        buf.writeUInt32BE(0, p + 8);
        this.pos = p + 12;
        return;
      case ItemType.LongInteger:
      case ItemType.DateTime:
      case ItemType.DateTimeExtended:
        buf.writeUInt32BE(8, p);
        buf.writeBigInt64BE(item.value, p + 4);
        this.pos = p + 12;
        return;
      case ItemType.Boolean:
        buf.writeUInt32BE(8, p);
        buf.writeUInt32BE(0, p + 4);
        buf.writeUInt32BE(item.value ? 1 : 0, p + 8);
        this.pos = p + 12;
        return;
      case ItemType.BigInteger: {
        const len = this.lengths[this.next++]!;
        buf.writeUInt32BE(len, p);
        const u = item.value < 0n ? item.value + (1n << BigInt(len * 8)) : item.value;
        buf.write(u.toString(16).padStart(len * 2, '0'), p + 4, len, 'hex');
        this.pos = p + 4 + len;
        return;
      }
      case ItemType.TextString: {
        const len = this.lengths[this.next++]!;
        buf.writeUInt32BE(len, p);
        buf.write(item.value, p + 4, len, 'utf8');
        this.pad(p + 4 + len, len);
        return;
      }
      case ItemType.ByteString: {
        const len = item.value.length;
        buf.writeUInt32BE(len, p);
        buf.set(item.value, p + 4);
        this.pad(p + 4 + len, len);
        return;
      }
    }
  }

  /** Zero the padding after a string value ending at `end` and move past it. */
  private pad(end: number, len: number): void {
    const stop = end + (((len + 7) & ~7) - len);
    this.buf.fill(0, end, stop);
    this.pos = stop;
  }
}
