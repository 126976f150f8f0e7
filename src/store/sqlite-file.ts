// Opening the store's SQLite file, shared by the synchronous and the asynchronous SQLite
// stores: it is created 0600 in a 0700 directory, and never written when it is not ours —
// foreign, corrupt or newer-schema databases are refused before any pragma or migration
// touches them. Then WAL, synchronous=FULL, and the pending migrations.
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { StoreError } from './errors';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';

/** 'EKMD' in the SQLite header's application_id: marks the file as ours. */
export const APPLICATION_ID = 0x454b4d44;

export interface OpenDatabaseOptions {
  logger?: Logger;
  /** Open for reading only (offline inspection): no migration, no writes. */
  readonly?: boolean;
}

export function openStoreDatabase(
  path: string,
  options: OpenDatabaseOptions = {},
): Database.Database {
  if (!options.readonly) createPrivateFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: !!options.readonly, fileMustExist: true });
  } catch (err) {
    throw new StoreError(`cannot open store ${path}: ${(err as Error).message}`);
  }
  try {
    checkAndMigrate(db, path, !!options.readonly, options.logger);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Create the database file 0600 (and its directory 0700) so SQLite never makes it 0644. */
function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new StoreError(`cannot create store ${path}: ${(err as Error).message}`);
    }
  }
}

function checkAndMigrate(
  db: Database.Database,
  path: string,
  readonly: boolean,
  log: Logger | undefined,
): void {
  let appId: number;
  let version: number;
  try {
    appId = db.pragma('application_id', { simple: true }) as number;
    version = db.pragma('user_version', { simple: true }) as number;
  } catch (err) {
    throw new StoreError(`store ${path} is not a readable database: ${(err as Error).message}`);
  }
  const fresh = appId === 0 && version === 0 && isEmpty(db);
  if (!fresh && appId !== APPLICATION_ID) {
    throw new StoreError(`store ${path} is not an ekmd store (application_id ${appId})`);
  }
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      `store ${path} has schema version ${version}, newer than this ekmd supports ` +
        `(${SCHEMA_VERSION}); refusing to open it`,
    );
  }
  if (!fresh) {
    let problems: string[];
    try {
      const rows = db.pragma('quick_check') as { quick_check: string }[];
      problems = rows.map((r) => r.quick_check);
    } catch (err) {
      throw new StoreError(`store ${path} is corrupt: ${(err as Error).message}`);
    }
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new StoreError(`store ${path} is corrupt: ${problems.slice(0, 3).join('; ')}`);
    }
  }
  if (readonly) {
    if (version !== SCHEMA_VERSION) {
      throw new StoreError(
        `store ${path} has schema version ${version}; this ekmd reads ${SCHEMA_VERSION} ` +
          '(start ekmd once to migrate it)',
      );
    }
    return;
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      MIGRATIONS[v](db);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
    log?.info({ path, schemaVersion: v + 1 }, 'store schema migrated');
  }
}

function isEmpty(db: Database.Database): boolean {
  const row = db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number };
  return row.n === 0;
}
