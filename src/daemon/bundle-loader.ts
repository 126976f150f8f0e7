// Runs a one-file CommonJS bundle with the V8 code cache written beside it, so a process
// start neither resolves ~150 module files nor compiles what the cache holds. The cache
// begins with the SHA-256 of the source it was made from: V8 itself checks only the
// source's length, and code compiled from other source must never run. The build writes
// the bundle already wrapped as a module function (wrapAsModule), whitespace and comments
// left out: each megabyte read, hashed and turned into a string is milliseconds of a boot,
// fresh memory being dear where page faults are (a virtual machine's first touch of a page).
import { isAscii } from 'node:buffer';
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
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  const hash = createHash('sha256').update(bytes).digest();
  // The build writes it ASCII only (asciiOnly), and ASCII needs no UTF-8 decoding.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const cachedData = cacheFor(file, hash);
  const script = new Script(source.startsWith(WRAPPER_START) ? source : Module.wrap(source), {
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

const WRAPPER_START = Module.wrap('').slice(0, Module.wrap('').indexOf('{') + 1);

/**
 * `source` as node wraps a CommonJS module (the function of exports, require, module,
 * __filename, __dirname): written so, the loader compiles the file's text as it is read
 * instead of a wrapped copy of it.
 */
export const wrapAsModule = (source: string): string => Module.wrap(source);

/**
 * The bundle with every character beyond ASCII written as a \u escape. esbuild already
 * writes code so (its ASCII charset, raw templates included); what it leaves are comments,
 * where an escape is as good. Not for other sources: in a String.raw template an escape
 * would change the text.
 */
export const asciiOnly = (source: string): string =>
  source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

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
