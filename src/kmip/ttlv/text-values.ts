// Scalar values in the KMIP text encodings (kmip.md §9), shared by JSON and XML:
// enumerations by name per KMIP version, 1.x Attribute Values named by their sibling
// Attribute Name, 2.x Attribute References naming tags, masks by bit names, Long Integers
// in hex from 2^52, ISO 8601 dates.
import { formatIsoUtc, parseIso } from './datetime';
import { TtlvError } from './error';
import { ItemType, type TtlvItem } from './item';
import {
  enumName,
  isMaskTag,
  maskNames,
  maskValue,
  readEnumValue,
  spellingElsewhere,
  type KmipVersion,
} from './names';
import { Tag, tagName, tagNumber } from './tags';

/** What naming a scalar depends on besides its own tag. */
export interface TextContext {
  version: KmipVersion;
  /** For a 1.x Attribute Value: the Attribute Name beside it ("Cryptographic Algorithm"). */
  attributeName?: string;
}

export type JsonScalar = string | number | boolean;

export const TYPE_NAMES: Readonly<Record<string, ItemType>> = {
  Structure: ItemType.Structure,
  Integer: ItemType.Integer,
  LongInteger: ItemType.LongInteger,
  BigInteger: ItemType.BigInteger,
  Enumeration: ItemType.Enumeration,
  Boolean: ItemType.Boolean,
  TextString: ItemType.TextString,
  ByteString: ItemType.ByteString,
  DateTime: ItemType.DateTime,
  Interval: ItemType.Interval,
  DateTimeExtended: ItemType.DateTimeExtended,
};

const TWO_52 = 1n << 52n;

/** Tag spelling: the spec name, else `0x42XXXX`. */
export function formatTag(tag: number): string {
  return tagName(tag) ?? hexOf(tag, 6);
}

export function parseTag(name: string, path: string): number {
  const tag = tagNumber(name);
  if (tag === undefined) throw new TtlvError(`${path}: unknown tag '${name}'`);
  return tag;
}

/** Tag whose enumeration names `tag`'s value, given where it sits. */
function namingTag(tag: number, ctx: TextContext): number {
  if (tag === Tag.AttributeValue && ctx.attributeName !== undefined && ctx.version.major < 2) {
    return attributeNameTag(ctx.attributeName) ?? tag;
  }
  return tag;
}

/** "Cryptographic Algorithm" → 0x420028; "X.509 Certificate Identifier" → 0x4200B5. */
function attributeNameTag(name: string): number | undefined {
  const squeezed = name.replace(/ /g, '');
  return tagNumber(squeezed) ?? tagNumber(squeezed.replace(/[.#-]/g, '_'));
}

/** The JSON value of a non-structure item; XML writes its String(). */
export function formatScalar(item: TtlvItem, ctx: TextContext, maskSeparator: string): JsonScalar {
  switch (item.type) {
    case ItemType.Integer: {
      const named = namingTag(item.tag, ctx);
      if (isMaskTag(named) && item.value !== 0) {
        const names = maskNames(named, item.value, ctx.version);
        if (names) return names.join(maskSeparator);
      }
      return item.value;
    }
    case ItemType.Interval:
      return item.value;
    case ItemType.Enumeration: {
      if (item.tag === Tag.AttributeReference) return tagName(item.value) ?? hexOf(item.value, 8);
      return enumName(namingTag(item.tag, ctx), item.value, ctx.version) ?? hexOf(item.value, 8);
    }
    case ItemType.LongInteger:
      return item.value < TWO_52 && item.value > -TWO_52
        ? Number(item.value)
        : hexOf(BigInt.asUintN(64, item.value), 16);
    case ItemType.BigInteger:
      return '0x' + bigHex(item.value);
    case ItemType.Boolean:
      return item.value;
    case ItemType.TextString:
      return item.value;
    case ItemType.ByteString:
      return item.value.toString('hex');
    case ItemType.DateTime:
    case ItemType.DateTimeExtended:
      return (
        formatIsoUtc(item.value, item.type === ItemType.DateTimeExtended) ??
        hexOf(BigInt.asUintN(64, item.value), 16)
      );
    case ItemType.Structure:
      throw new TtlvError('a Structure has no scalar value', -1, item.tag);
  }
}

/** Two's-complement hex of a Big Integer, sign-extended to a multiple of 8 bytes. */
export function bigHex(v: bigint): string {
  const magnitude = v < 0n ? -v - 1n : v;
  const bytes = Math.ceil((magnitude.toString(2).length + 1) / 64) * 8;
  const u = v < 0n ? v + (1n << BigInt(bytes * 8)) : v;
  return u.toString(16).padStart(bytes * 2, '0');
}

/** Build the item of `tag`/`type` from its text value `raw` (JSON value or XML attribute). */
export function parseScalar(
  tag: number,
  type: ItemType,
  raw: unknown,
  ctx: TextContext,
  path: string,
): TtlvItem {
  const fail = (what: string): never => {
    // Strings and bytes may be key material or passwords: their values are never echoed.
    const shown =
      type === ItemType.TextString || type === ItemType.ByteString ? '' : ` (got ${preview(raw)})`;
    throw new TtlvError(`${path}: ${what}${shown}`, -1, tag);
  };
  switch (type) {
    case ItemType.Integer: {
      const named = namingTag(tag, ctx);
      if (typeof raw === 'string' && isMaskTag(named) && /^[A-Za-z]/.test(raw)) {
        const v =
          maskValue(named, raw.split(/[\s|]+/).filter(Boolean), ctx.version) ??
          maskValue(named, raw.split(/[\s|]+/).filter(Boolean));
        if (v === undefined) fail('unknown mask bit name');
        return { tag, type, value: v! | 0 };
      }
      const v = integer(raw, 32, true);
      if (v === undefined) fail('Integer must be a signed 32-bit number or 0x + 8 hex digits');
      return { tag, type, value: Number(v) };
    }
    case ItemType.Interval: {
      const v = integer(raw, 32, false);
      if (v === undefined) fail('Interval must be an unsigned 32-bit number');
      return { tag, type, value: Number(v) };
    }
    case ItemType.Enumeration: {
      if (typeof raw === 'string' && !/^0x/i.test(raw)) {
        const named = namingTag(tag, ctx);
        const v =
          tag === Tag.AttributeReference ? tagNumber(raw) : readEnumValue(named, raw, ctx.version);
        if (v === undefined) fail(unknownEnumeration(named, raw, ctx.version));
        return { tag, type, value: v! };
      }
      const v = integer(raw, 32, false);
      if (v === undefined) fail('Enumeration must be a name or 0x + 8 hex digits');
      return { tag, type, value: Number(v) };
    }
    case ItemType.LongInteger: {
      const v = integer(raw, 64, true);
      if (v === undefined) fail('LongInteger must be a number below 2^52 or 0x + 16 hex digits');
      return { tag, type, value: v! };
    }
    case ItemType.BigInteger: {
      if (typeof raw !== 'string' || !/^(0x)?([0-9a-fA-F]{16})+$/.test(raw)) {
        return fail('BigInteger must be hex, a multiple of 8 bytes');
      }
      const hex = raw.replace(/^0x/, '');
      const u = BigInt('0x' + hex);
      const signed = parseInt(hex[0]!, 16) >= 8 ? u - (1n << BigInt(hex.length * 4)) : u;
      return { tag, type, value: signed };
    }
    case ItemType.Boolean: {
      if (raw === true || raw === 'true') return { tag, type, value: true };
      if (raw === false || raw === 'false') return { tag, type, value: false };
      return fail('Boolean must be true or false');
    }
    case ItemType.TextString:
      if (typeof raw !== 'string') fail('TextString must be a string');
      return { tag, type, value: raw as string };
    case ItemType.ByteString: {
      if (typeof raw !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(raw)) {
        return fail('ByteString must be hex');
      }
      return { tag, type, value: Buffer.from(raw, 'hex') };
    }
    case ItemType.DateTime:
    case ItemType.DateTimeExtended: {
      const micros = type === ItemType.DateTimeExtended;
      const v =
        typeof raw === 'string' && !/^0x/i.test(raw)
          ? parseIso(raw, micros)
          : integer(raw, 64, true);
      if (v === undefined)
        fail(`${micros ? 'DateTimeExtended' : 'DateTime'} must be ISO 8601 with a zone`);
      return { tag, type, value: v! };
    }
    case ItemType.Structure:
      return fail('a Structure has no scalar value');
  }
}

/** Why enumeration `name` does not read: unknown, or a spelling of other KMIP versions. */
function unknownEnumeration(tag: number, name: string, version: KmipVersion): string {
  const elsewhere = spellingElsewhere(tag, name, version);
  if (!elsewhere) return 'unknown enumeration name';
  const { from, to, canonical } = elsewhere;
  const range = from === to ? versionText(from) : `${versionText(from)}-${versionText(to)}`;
  return `a KMIP ${range} spelling, not used in ${version.major}.${version.minor}: write ${canonical}`;
}

function versionText(n: number): string {
  return `${Math.floor(n / 10)}.${n % 10}`;
}

/**
 * A number (safe integer) or `0x` hex of exactly bits/4 digits (two's complement when
 * signed), checked against the type's range; undefined when it is neither.
 */
function integer(raw: unknown, bits: 32 | 64, signed: boolean): bigint | undefined {
  let v: bigint;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) return undefined;
    v = BigInt(raw);
  } else if (typeof raw === 'string' && /^-?\d+$/.test(raw)) {
    v = BigInt(raw);
  } else if (typeof raw === 'string' && new RegExp(`^0x[0-9a-fA-F]{${bits / 4}}$`).test(raw)) {
    const u = BigInt(raw);
    return signed ? BigInt.asIntN(bits, u) : u;
  } else {
    return undefined;
  }
  const b = BigInt(bits);
  const [lo, hi] = signed ? [-(1n << (b - 1n)), (1n << (b - 1n)) - 1n] : [0n, (1n << b) - 1n];
  return v >= lo && v <= hi ? v : undefined;
}

/** A short rendering of a rejected non-secret value for an error message. */
function preview(raw: unknown): string {
  const text = typeof raw === 'bigint' ? raw.toString() : (JSON.stringify(raw) ?? String(raw));
  return text.length > 40 ? text.slice(0, 40) + '…' : text;
}

function hexOf(n: number | bigint, digits: number): string {
  return '0x' + n.toString(16).toUpperCase().padStart(digits, '0');
}
