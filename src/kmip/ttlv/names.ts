// Enumeration and mask names per tag and KMIP version: what the text encodings print and
// parse. A value is named in a version only if that version defines it. Printing uses the
// canonical names; reading also takes the spec tables' other spellings (spellings.ts).
import { ENUM_ROWS as ROWS, type EnumRow } from './enum-rows';
import { spellingsOf, type SpellingEntry } from './spellings';

/** A KMIP protocol version, as in the message's Protocol Version. */
export interface KmipVersion {
  major: number;
  minor: number;
}

/** The newest version whose names this table knows. */
export const LATEST_VERSION: KmipVersion = { major: 2, minor: 1 };

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
