// Enumeration and mask names per tag and KMIP version: what the text encodings print and
// parse. A value is named in a version only if that version defines it. Printing uses the
// canonical names; reading also takes the spec tables' other spellings (spellings.ts).
import * as E from './enums';
import { spellingsOf, type SpellingEntry } from './spellings';
import { Tag } from './tags';

/** A KMIP protocol version, as in the message's Protocol Version. */
export interface KmipVersion {
  major: number;
  minor: number;
}

/** The newest version whose names this table knows. */
export const LATEST_VERSION: KmipVersion = { major: 2, minor: 1 };

interface EnumRow {
  tag: number;
  names: Readonly<Record<string, number>>;
  /** Values first defined after 1.0, by version (12 = 1.2). */
  since: Readonly<Record<number, readonly number[]>>;
  /** Values designated "(Reserved)" from 2.0 on. */
  removedIn20: readonly number[];
  /** An Integer bit mask rather than an Enumeration. */
  mask: boolean;
}

const ROWS: EnumRow[] = [
  {
    tag: Tag.AdjustmentType,
    names: E.AdjustmentType,
    since: { 20: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.AlternativeNameType,
    names: E.AlternativeNameType,
    since: { 12: [0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.AsynchronousIndicator,
    names: E.AsynchronousIndicator,
    since: { 20: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.AttestationType,
    names: E.AttestationType,
    since: { 12: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.BatchErrorContinuationOption,
    names: E.BatchErrorContinuationOption,
    since: {},
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.BlockCipherMode,
    names: E.BlockCipherMode,
    since: { 14: [0x12] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.CancellationResult,
    names: E.CancellationResult,
    since: {},
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.CertificateRequestType,
    names: E.CertificateRequestType,
    since: {},
    removedIn20: [0x4],
    mask: false,
  },
  { tag: Tag.CertificateType, names: E.CertificateType, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.ClientRegistrationMethod,
    names: E.ClientRegistrationMethod,
    since: { 13: [0x1, 0x2, 0x3, 0x4, 0x5] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.CredentialType,
    names: E.CredentialType,
    since: { 11: [0x2], 12: [0x3], 20: [0x4, 0x5, 0x6] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.CryptographicAlgorithm,
    names: E.CryptographicAlgorithm,
    since: {
      12: [0x1a],
      13: [0x1b],
      14: [0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28],
      20: [
        0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
        0x38,
      ],
    },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.CryptographicUsageMask,
    names: E.CryptographicUsageMask,
    since: { 20: [0x100000, 0x200000, 0x400000, 0x800000] },
    removedIn20: [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000],
    mask: true,
  },
  {
    tag: Tag.DerivationMethod,
    names: E.DerivationMethod,
    since: { 14: [0x8], 20: [0x9, 0xa] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.DestroyAction,
    names: E.DestroyAction,
    since: { 13: [0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.DigitalSignatureAlgorithm,
    names: E.DigitalSignatureAlgorithm,
    since: {
      11: [0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10],
      14: [0x11, 0x12, 0x13],
    },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.DRBGAlgorithm,
    names: E.DRBGAlgorithm,
    since: { 13: [0x1, 0x2, 0x3, 0x4, 0x5] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.EncodingOption,
    names: E.EncodingOption,
    since: { 11: [0x1, 0x2] },
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.EndpointRole, names: E.EndpointRole, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.FIPS186Variation,
    names: E.FIPS186Variation,
    since: { 13: [0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.HashingAlgorithm,
    names: E.HashingAlgorithm,
    since: { 12: [0xc, 0xd], 14: [0xe, 0xf, 0x10, 0x11] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.KeyCompressionType,
    names: E.KeyCompressionType,
    since: {},
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.KeyFormatType,
    names: E.KeyFormatType,
    since: { 13: [0x14, 0x15], 14: [0x16], 21: [0x17] },
    removedIn20: [0xe, 0xf, 0x10, 0x11, 0x12, 0x13],
    mask: false,
  },
  {
    tag: Tag.KeyRoleType,
    names: E.KeyRoleType,
    since: { 14: [0x16, 0x17, 0x18] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.KeyValueLocationType,
    names: E.KeyValueLocationType,
    since: { 12: [0x1, 0x2] },
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.KeyWrapType, names: E.KeyWrapType, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.LinkType,
    names: E.LinkType,
    since: { 12: [0x108, 0x109, 0x10a, 0x10b], 14: [0x10c, 0x10d], 20: [0x10e] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.MaskGenerator,
    names: E.MaskGenerator,
    since: { 14: [0x1] },
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.NameType, names: E.NameType, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.NISTKeyType,
    names: E.NISTKeyType,
    since: {
      20: [
        0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11, 0x12,
        0x13,
      ],
    },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ObjectGroupMember,
    names: E.ObjectGroupMember,
    since: { 11: [0x1, 0x2] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ObjectType,
    names: E.ObjectType,
    since: { 12: [0x9], 20: [0xa] },
    removedIn20: [0x6],
    mask: false,
  },
  {
    tag: Tag.Operation,
    names: E.Operation,
    since: {
      11: [0x1d, 0x1e],
      12: [0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29],
      14: [0x2a, 0x2b],
      20: [0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35],
      21: [0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b],
    },
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.PaddingMethod, names: E.PaddingMethod, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.ProfileName,
    names: E.ProfileName,
    since: {
      13: [
        0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11, 0x12,
        0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21,
        0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30,
        0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
        0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e,
        0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d,
        0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c,
        0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
      ],
      14: [
        0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
        0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96,
        0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c,
      ],
      20: [
        0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10a, 0x10b, 0x10c, 0x10d, 0x10e, 0x10f, 0x110,
        0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117, 0x118, 0x119, 0x11a, 0x11b, 0x11c, 0x11d,
        0x11e, 0x11f, 0x120, 0x121, 0x122, 0x123, 0x124, 0x125, 0x126, 0x127, 0x128, 0x129, 0x12a,
        0x12b, 0x12c,
      ],
    },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ProtectionLevel,
    names: E.ProtectionLevel,
    since: { 20: [0x1, 0x2] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ProtectionStorageMask,
    names: E.ProtectionStorageMask,
    since: {
      20: [0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000],
    },
    removedIn20: [],
    mask: true,
  },
  { tag: Tag.PutFunction, names: E.PutFunction, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.QueryFunction,
    names: E.QueryFunction,
    since: { 11: [0x5, 0x6], 12: [0x7], 13: [0x8, 0x9, 0xa, 0xb, 0xc], 20: [0xd, 0xe] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.RecommendedCurve,
    names: E.RecommendedCurve,
    since: {
      12: [
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
        0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d,
        0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c,
        0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44,
      ],
      20: [0x45, 0x46],
    },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ResultReason,
    names: E.ResultReason,
    since: {
      20: [
        0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x28,
        0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x32, 0x34, 0x35, 0x36, 0x37, 0x39, 0x3a,
        0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
      ],
      21: [0x48, 0x49, 0x4a, 0x4b, 0x4c],
    },
    removedIn20: [0xb, 0xe],
    mask: false,
  },
  { tag: Tag.ResultStatus, names: E.ResultStatus, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.RevocationReasonCode,
    names: E.RevocationReasonCode,
    since: {},
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.RNGAlgorithm,
    names: E.RNGAlgorithm,
    since: { 13: [0x1, 0x2, 0x3, 0x4, 0x5, 0x6] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.RNGMode,
    names: E.RNGMode,
    since: { 13: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.SecretDataType, names: E.SecretDataType, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.ShreddingAlgorithm,
    names: E.ShreddingAlgorithm,
    since: { 13: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.SplitKeyMethod,
    names: E.SplitKeyMethod,
    since: { 12: [0x4] },
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.State, names: E.State, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.StorageStatusMask,
    names: E.StorageStatusMask,
    since: { 20: [0x4] },
    removedIn20: [],
    mask: true,
  },
  { tag: Tag.TicketType, names: E.TicketType, since: { 20: [0x1] }, removedIn20: [], mask: false },
  {
    tag: Tag.UniqueIdentifier,
    names: E.UniqueIdentifier,
    since: {
      20: [0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11],
    },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.UnwrapMode,
    names: E.UnwrapMode,
    since: { 13: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.UsageLimitsUnit, names: E.UsageLimitsUnit, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.ValidationAuthorityType,
    names: E.ValidationAuthorityType,
    since: { 13: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ValidationType,
    names: E.ValidationType,
    since: { 13: [0x1, 0x2, 0x3, 0x4, 0x5] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ValidityIndicator,
    names: E.ValidityIndicator,
    since: {},
    removedIn20: [],
    mask: false,
  },
  { tag: Tag.WrappingMethod, names: E.WrappingMethod, since: {}, removedIn20: [], mask: false },
  {
    tag: Tag.InteropFunction,
    names: E.InteropFunction,
    since: { 20: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.ProcessingStage,
    names: E.ProcessingStage,
    since: { 21: [0x1, 0x2, 0x3] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.RotateNameType,
    names: E.RotateNameType,
    since: { 21: [0x1, 0x2] },
    removedIn20: [],
    mask: false,
  },
  {
    tag: Tag.MaskGeneratorHashingAlgorithm,
    names: E.HashingAlgorithm,
    since: { 12: [0xc, 0xd], 14: [0xe, 0xf, 0x10, 0x11] },
    removedIn20: [],
    mask: false,
  },
];

interface EnumTable {
  mask: boolean;
  /** Canonical names: printed, and read in every version that defines the value. */
  byName: Map<string, number>;
  byValue: Map<number, string>;
  /** Spec-table spellings besides the canonical names, read only in their own versions. */
  spellings: Map<string, SpellingEntry>;
  /** Version (major*10+minor) each value first appears in; absent = 1.0. */
  sinceOf: Map<number, number>;
  removed: Set<number>;
}

let rowsByTag: Map<number, EnumRow> | undefined;
const tables = new Map<number, EnumTable>();

/** Built per tag on first use: a one-message command names only a few enumerations. */
function table(tag: number): EnumTable | undefined {
  const cached = tables.get(tag);
  if (cached) return cached;
  rowsByTag ??= new Map(ROWS.map((row) => [row.tag, row]));
  const row = rowsByTag.get(tag);
  if (!row) return undefined;
  const entries = Object.entries(row.names);
  const t: EnumTable = {
    mask: row.mask,
    byName: new Map(entries),
    byValue: new Map(entries.map(([n, v]) => [v, n])),
    spellings: spellingsOf(row.names),
    sinceOf: new Map(),
    removed: new Set(row.removedIn20),
  };
  for (const [ver, values] of Object.entries(row.since)) {
    for (const v of values) t.sinceOf.set(v, Number(ver));
  }
  tables.set(tag, t);
  return t;
}

function versionNumber(v: KmipVersion | undefined): number {
  const ver = v ?? LATEST_VERSION;
  return ver.major * 10 + ver.minor;
}

function definedIn(t: EnumTable, value: number, ver: number): boolean {
  if ((t.sinceOf.get(value) ?? 10) > ver) return false;
  return !(ver >= 20 && t.removed.has(value));
}

/** The value `name` spells in version `ver`: a canonical name, or a table spelling of `ver`. */
function spelledValue(t: EnumTable, name: string, ver: number): number | undefined {
  const canonical = t.byName.get(name);
  if (canonical !== undefined) return canonical;
  const s = t.spellings.get(name);
  return s !== undefined && s.from <= ver && ver <= s.to ? s.value : undefined;
}

/** Whether `tag` carries a named enumeration (or, for masks, named bits). */
export function hasEnumeration(tag: number): boolean {
  return table(tag) !== undefined;
}

/** Whether `tag` is an Integer bit mask with named bits (Cryptographic Usage Mask, …). */
export function isMaskTag(tag: number): boolean {
  return table(tag)?.mask === true;
}

/** The spec name of enumeration `value` of `tag` in `version` (default: latest), if any. */
export function enumName(tag: number, value: number, version?: KmipVersion): string | undefined {
  const t = table(tag);
  if (!t || t.mask) return undefined;
  const name = t.byValue.get(value);
  return name !== undefined && definedIn(t, value, versionNumber(version)) ? name : undefined;
}

/**
 * The value of enumeration `name` of `tag` in `version` (default: latest), if defined there.
 * `name` is the canonical name or a spelling that version's table uses.
 */
export function enumValue(tag: number, name: string, version?: KmipVersion): number | undefined {
  const t = table(tag);
  if (!t || t.mask) return undefined;
  const ver = versionNumber(version);
  const value = spelledValue(t, name, ver);
  return value !== undefined && definedIn(t, value, ver) ? value : undefined;
}

/**
 * What a reader makes of `name` in a message of `version`: as enumValue, but a value that only
 * a later version defines still reads (a decoder then prints it in hex). The spelling itself
 * must be one `version` uses.
 */
export function readEnumValue(tag: number, name: string, version: KmipVersion): number | undefined {
  const t = table(tag);
  if (!t || t.mask) return undefined;
  const ver = versionNumber(version);
  const value = spelledValue(t, name, ver);
  if (value === undefined) return undefined;
  const defined = definedIn(t, value, ver) || definedIn(t, value, versionNumber(LATEST_VERSION));
  return defined ? value : undefined;
}

/** A table spelling of `tag` that other versions than `version` use, for a reader's error. */
export function spellingElsewhere(
  tag: number,
  name: string,
  version: KmipVersion,
): { from: number; to: number; canonical: string } | undefined {
  const t = table(tag);
  const s = t?.spellings.get(name);
  if (!t || !s || spelledValue(t, name, versionNumber(version)) !== undefined) return undefined;
  return { from: s.from, to: s.to, canonical: t.byValue.get(s.value)! };
}

/**
 * Names of the bits set in mask `value` of `tag`, or undefined when `tag` is not a mask or
 * some set bit has no name in `version` (the caller then prints the number).
 */
export function maskNames(tag: number, value: number, version?: KmipVersion): string[] | undefined {
  const t = table(tag);
  if (!t?.mask) return undefined;
  const ver = versionNumber(version);
  const names: string[] = [];
  let rest = value >>> 0;
  for (const [bit, name] of t.byValue) {
    if ((rest & bit) !== 0 && definedIn(t, bit, ver)) {
      names.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  return rest === 0 ? names : undefined;
}

/** The mask value for bit names of `tag`, or undefined if one is unknown. */
export function maskValue(
  tag: number,
  names: readonly string[],
  version?: KmipVersion,
): number | undefined {
  const t = table(tag);
  if (!t?.mask) return undefined;
  const ver = versionNumber(version);
  let value = 0;
  for (const n of names) {
    const bit = spelledValue(t, n, ver);
    if (bit === undefined || !definedIn(t, bit, ver)) return undefined;
    value = (value | bit) >>> 0;
  }
  return value;
}
