// Key and value checks shared by every store backend: bad input is refused before it
// reaches the database, with an error that names the key but never the value.
import { StoreError } from './errors';
import type { Json } from './store';

const MAX_KEY_LENGTH = 1024;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new StoreError('store key must be a non-empty string');
  }
  if (key.length > MAX_KEY_LENGTH) {
    throw new StoreError(`store key longer than ${MAX_KEY_LENGTH} characters`);
  }
  // Control characters would make keys ambiguous in logs and listings.
  if (/[\u0000-\u001f\u007f]/.test(key)) {
    throw new StoreError(`store key ${JSON.stringify(key)} contains a control character`);
  }
  // UTF-8 (SQLite's text, etcd's key bytes) would store a lone surrogate as U+FFFD: a
  // different key than the one written.
  if (LONE_SURROGATE.test(key)) {
    throw new StoreError(`store key ${JSON.stringify(key)} is not valid Unicode`);
  }
  return key;
}

export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw new StoreError('store prefix must be a string');
  return prefix === '' ? prefix : checkKey(prefix);
}

/** Serialise a value, refusing anything JSON would silently drop or alter. */
export function encodeValue(key: string, value: Json): string {
  const bad = findNonJson(value, 0);
  if (bad) throw new StoreError(`value for store key ${JSON.stringify(key)}: ${bad}`);
  return JSON.stringify(value);
}

function findNonJson(value: unknown, depth: number): string | undefined {
  if (depth > 64) return 'nested deeper than 64 levels';
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'not a finite number';
  if (Array.isArray(value)) {
    for (const v of value) {
      const bad = findNonJson(v, depth + 1);
      if (bad) return bad;
    }
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as object)) {
      const bad = findNonJson(v, depth + 1);
      if (bad) return bad;
    }
    return;
  }
  return `${typeof value === 'object' ? 'non-plain object' : typeof value} is not JSON`;
}

/**
 * Serialise a value for the store: the checks above plus a size cap, so
 * that no value comes near etcd's request limit (and SQLite refuses the same values).
 */
export function encodeBoundedValue(key: string, value: Json, maxBytes: number): string {
  const encoded = encodeValue(key, value);
  const bytes = Buffer.byteLength(encoded);
  if (bytes > maxBytes) {
    throw new StoreError(
      `value for store key ${JSON.stringify(key)} is ${bytes} bytes; the limit is ${maxBytes}`,
    );
  }
  return encoded;
}

/** The longest lease: a day (a key that should outlive that is not "alive" state). */
export const MAX_LEASE_TTL_SECONDS = 86_400;

export function checkLeaseTtl(ttlSeconds: unknown): number {
  if (!Number.isSafeInteger(ttlSeconds) || (ttlSeconds as number) < 1) {
    throw new StoreError('lease TTL must be a whole number of seconds, at least 1');
  }
  if ((ttlSeconds as number) > MAX_LEASE_TTL_SECONDS) {
    throw new StoreError(`lease TTL must be at most ${MAX_LEASE_TTL_SECONDS} seconds`);
  }
  return ttlSeconds as number;
}

export function checkRevision(revision: unknown, what: string): number {
  if (!Number.isSafeInteger(revision) || (revision as number) < 0) {
    throw new StoreError(`${what} must be a non-negative integer`);
  }
  return revision as number;
}
