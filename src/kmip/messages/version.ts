// Protocol versions: what the client offers and how versions compare.
import type { KmipVersion } from '../ttlv';

/** Offered by default, preferred first. 2.x only when configured. */
export const CLIENT_VERSIONS: readonly KmipVersion[] = [
  { major: 1, minor: 4 },
  { major: 1, minor: 3 },
  { major: 1, minor: 2 },
  { major: 1, minor: 1 },
  { major: 1, minor: 0 },
];

export const V1_0: KmipVersion = { major: 1, minor: 0 };
/** Discover Versions exists from 1.1 on: it is sent with this header. */
export const V1_1: KmipVersion = { major: 1, minor: 1 };

export function sameVersion(a: KmipVersion, b: KmipVersion): boolean {
  return a.major === b.major && a.minor === b.minor;
}

/** 2.x encodes attributes as tagged items; 1.x as Attribute name/value structures. */
export function isV2(v: KmipVersion): boolean {
  return v.major >= 2;
}

export function formatVersion(v: KmipVersion): string {
  return `${v.major}.${v.minor}`;
}

/** "1.4" -> {1,4}; undefined for anything else. */
export function parseVersion(s: string): KmipVersion | undefined {
  const m = /^(\d{1,2})\.(\d{1,2})$/.exec(s);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}
