// Runs a one-file CommonJS bundle with the V8 code cache written beside it, so a process
// start neither resolves ~150 module files nor compiles what the cache holds. The cache
// begins with the SHA-256 of the source it was made from: V8 itself checks only the
// source's length, and code compiled from other source must never run.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

const HASH_BYTES = 32;

export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** The cache was given to V8 and accepted. */
  cacheUsed: boolean;
  /** The cache of what has been compiled so far (with the source's hash), for writeCodeCache. */
  codeCache(): Buffer;
}

export const cacheFileOf = (bundle: string): string => `${bundle}.cache`;

/** The bundle at `file` run as a module; undefined when there is no such file. */
export function loadBundle(file: string): LoadedBundle | undefined {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const hash = createHash('sha256').update(source).digest();
  const cachedData = cacheFor(file, hash);
  const script = new Script(Module.wrap(source), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const mod = new Module(file);
  mod.filename = file;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  return {
    exports: mod.exports as Record<string, unknown>,
    cacheUsed: !!cachedData && !script.cachedDataRejected,
    codeCache: () => Buffer.concat([hash, script.createCachedData()]),
  };
}

/** Written whole, then renamed: a reader never sees half a cache. */
export function writeCodeCache(bundle: string, cache: Buffer): void {
  const file = cacheFileOf(bundle);
  writeFileSync(`${file}.tmp`, cache);
  renameSync(`${file}.tmp`, file);
}

/** The V8 data of the cache beside `file` when it was made from this source. */
function cacheFor(file: string, hash: Buffer): Buffer | undefined {
  let cache: Buffer;
  try {
    cache = readFileSync(cacheFileOf(file));
  } catch {
    return undefined;
  }
  if (cache.length <= HASH_BYTES || !cache.subarray(0, HASH_BYTES).equals(hash)) return undefined;
  return cache.subarray(HASH_BYTES);
}
