// A snapshot of a whole store as one JSON file: every entry as of one revision of the view
// (synchronous reads: one revision). It is how an etcd cluster store is backed up (a SQLite
// store is copied whole by SqliteStore.backup) and how a snapshot is restored into an empty
// store of either backend. Values are sealed where they are secret, as in the store: the
// file holds nothing in the clear, and restoring it needs the same sealing root.
import { closeSync, linkSync, openSync, readFileSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from '../util/atomic-file';
import { StoreError } from './errors';
import { MAX_TX_WRITES, type Json, type Store } from './store';

const FORMAT = 'ekmd-store-snapshot';
const VERSION = 1;

interface Snapshot {
  format: string;
  version: number;
  revision: number;
  createTime: string;
  entries: { key: string; value: Json }[];
}

/** Writes the store's entries to `dest` (0600); `dest` must not exist. Returns the count. */
export function writeSnapshot(store: Store, dest: string): number {
  const entries = store.list('').map((e) => ({ key: e.key, value: e.value }));
  const snapshot: Snapshot = {
    format: FORMAT,
    version: VERSION,
    revision: store.revision(),
    createTime: new Date().toISOString(),
    entries,
  };
  const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      const data = Buffer.from(`${JSON.stringify(snapshot)}\n`);
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // link, not rename: an existing backup is never overwritten.
    try {
      linkSync(tmp, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new Error(`${dest} already exists`);
      throw err;
    }
    fsyncDir(dirname(dest));
  } catch (err) {
    throw new StoreError(`cannot write the store snapshot ${dest}: ${(err as Error).message}`);
  } finally {
    rmSync(tmp, { force: true });
  }
  return entries.length;
}

/**
 * Writes a snapshot's entries into `store`, which must hold nothing yet (a restore never
 * merges into a cluster's live state). In transactions of the store's write limit; a
 * restore cut short leaves a store that is not empty, so it is not taken for a restored
 * one: start again on an empty store. Returns the count.
 */
export async function restoreSnapshot(file: string, store: Store): Promise<number> {
  const snapshot = readSnapshot(file);
  if (store.list('').length > 0) {
    throw new StoreError('the store to restore into is not empty; restore into an empty one');
  }
  const { entries } = snapshot;
  for (let i = 0; i < entries.length; i += MAX_TX_WRITES) {
    const chunk = entries.slice(i, i + MAX_TX_WRITES);
    await store.transaction((tx) => {
      for (const e of chunk) tx.put(e.key, e.value);
    });
  }
  return entries.length;
}

function readSnapshot(file: string): Snapshot {
  let parsed: Partial<Snapshot>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Snapshot>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StoreError(`${file} is not a store snapshot${code ? ` (${code})` : ''}`);
  }
  if (parsed.format !== FORMAT || !Array.isArray(parsed.entries)) {
    throw new StoreError(`${file} is not a store snapshot`);
  }
  if (typeof parsed.version !== 'number' || parsed.version > VERSION) {
    throw new StoreError(
      `${file} has snapshot version ${String(parsed.version)}, newer than this ekmd reads`,
    );
  }
  return parsed as Snapshot;
}
