// Reading ekmd's store directly (its SQLite file read-only, or the cluster's etcd), for the commands that must work while ekmd is
// down (the fault log at boot) or that read what only the store keeps (the audit log).
// Which stateDir: state-dir.ts.
import { join } from 'node:path';
import { UsageError } from '../../util/command';
import { openSqliteStore, STORE_FILE, type Store } from '../../store';
import { openEtcd, readJoinedStore } from '../../store/cluster-store';

export { DEFAULT_STATE_DIR, stateDirOf } from './state-dir';

export const stateDirFlag = {
  'state-dir': {
    type: 'string',
    help: "--state-dir DIR  read ekmd's store in DIR directly (read-only)",
  },
} as const;

/**
 * The store of `stateDir`, for reading: its SQLite file opened read-only (nothing is migrated
 * or written), or the etcd store the node joined (stateDir/store.json), whose view is read.
 */
export async function openStateStore(stateDir: string): Promise<Store> {
  const etcd = readJoinedStore(stateDir);
  if (etcd) return openEtcd(etcd, { create: false });
  return openSqliteStore(join(stateDir, STORE_FILE), { readonly: true });
}

/** Runs `fn` on the store of `stateDir`, opened for this call only. */
export async function withStateStore<T>(stateDir: string, fn: (store: Store) => T): Promise<T> {
  const store = await openStateStore(stateDir);
  try {
    return fn(store);
  } finally {
    await store.close();
  }
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * --since: a duration back from now (30s, 15m, 2h, 7d) or an ISO 8601 date or time
 * (UTC unless it names a zone).
 */
export function parseSince(text: string, now = Date.now()): Date {
  const rel = /^(\d{1,9})([smhd])$/.exec(text);
  if (rel) return new Date(now - Number(rel[1]) * UNITS[rel[2]]);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(text)) {
    const zoned = /T|\s/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text}Z` : text;
    const when = Date.parse(zoned.replace(' ', 'T'));
    if (!Number.isNaN(when)) return new Date(when);
  }
  throw new UsageError(
    `bad --since '${text}' (a duration like 30m, 2h, 7d, or a date like 2026-01-31T12:00Z)`,
  );
}

/** Short UTC time for tables: 2026-01-31T12:00:05Z. */
export function shortDate(iso: string): string {
  return iso ? iso.replace(/\.\d+Z$/, 'Z') : '';
}
