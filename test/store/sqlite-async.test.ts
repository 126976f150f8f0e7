// The asynchronous SQLite store beyond the contract: the upgrade of an existing file to
// global revisions, sharing the file with the synchronous store, and the file checks.
import t from 'tap';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAsyncSqliteStore, openSqliteStore, type StoreChange } from '../../src/store';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/migrations';
import { tempDir } from './tmpdir';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A store file as schema 2 left it (per-key revisions, tombstones), without the counter. */
function schema2File(path: string): void {
  const db = new Database(path);
  MIGRATIONS[0](db);
  MIGRATIONS[1](db);
  const put = db.prepare('INSERT INTO kv (key, value, revision, deleted) VALUES (?, ?, ?, ?)');
  put.run('a', '{"v":1}', 3, 0);
  put.run('b', '"two"', 7, 0);
  put.run('gone', 'null', 4, 1);
  db.pragma(`application_id = ${0x454b4d44}`);
  db.pragma('user_version = 2');
  db.close();
}

t.test('an upgraded file keeps its revisions, and every key only moves forward', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  schema2File(path);
  const store = openAsyncSqliteStore(path);
  t.teardown(() => store.close());
  t.same(await store.get('a'), { key: 'a', value: { v: 1 }, revision: 3 });
  t.equal(await store.revision(), 7, 'the counter starts at the highest revision');
  const next = await store.put('a', 2);
  t.ok(next > 7, `a's next revision (${next}) is past every revision before the upgrade`);
  t.equal(await store.compareAndSet('gone', 4, 'x'), false, "the tombstone's revision is not live");
  t.equal(await store.compareAndSet('gone', 0, 'back'), true);
  t.ok((await store.get('gone'))!.revision > next);
  const check = new Database(path, { readonly: true });
  t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  check.close();
});

t.test(
  'the synchronous store on the same file: its revisions as before, the counter shared',
  async (t) => {
    const path = join(tempDir(t), 'ekmd.db');
    const sync = openSqliteStore(path);
    t.teardown(() => sync.close());
    const store = openAsyncSqliteStore(path);
    t.teardown(() => store.close());
    t.equal(sync.put('k', 1), 1, 'per-key revisions as the synchronous port defines them');
    const fromAsync = (await store.get('k'))!.revision;
    t.equal(fromAsync, await store.revision());
    const r = await store.put('k', 2);
    t.ok(r > fromAsync);
    t.same(
      sync.get('k'),
      { key: 'k', value: 2, revision: 2 },
      'an async write continues its count',
    );
    sync.delete('k');
    t.equal(sync.put('k', 3), 4);
    t.ok((await store.get('k'))!.revision > r, 'the synchronous writes took the global counter');

    // A transaction that read k conflicts with a synchronous write of it.
    let attempts = 0;
    const value = await store.transaction(async (tx) => {
      attempts++;
      const seen = (await tx.get<number>('k'))!.value;
      if (attempts === 1) sync.put('k', 10);
      tx.put('copy', seen);
      return seen;
    });
    t.equal(attempts, 2);
    t.equal(value, 10, 'it ran again and saw the synchronous write');
  },
);

t.test('a write by another connection reaches a watcher as a resync', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const store = openAsyncSqliteStore(path);
  t.teardown(() => store.close());
  const other = openAsyncSqliteStore(path);
  t.teardown(() => other.close());
  const changes: StoreChange[] = [];
  const stop = await store.watch('w/', (c) => changes.push(c));
  t.teardown(() => stop());
  await store.put('w/1', 1);
  await other.put('w/2', 2);
  t.equal(changes.length, 1, 'not seen yet: this connection has not looked');
  await store.put('w/3', 3);
  t.same(
    changes.map((c) => c.type),
    ['put', 'resync', 'put'],
  );
  const resync = changes[1];
  t.same(resync.type === 'resync' && resync.entries.map((e) => e.key), ['w/1', 'w/2']);
});

t.test('WAL, synchronous=FULL; foreign and newer files refused untouched', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ekmd.db');
  const store = openAsyncSqliteStore(path);
  const db = (store as unknown as { db: Database.Database }).db;
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  await store.close();
  const newer = new Database(path);
  newer.pragma('user_version = 99');
  newer.close();
  const before = sha(path);
  t.throws(() => openAsyncSqliteStore(path), /schema version 99, newer than this ekmd supports/);
  t.equal(sha(path), before);
  const foreign = join(dir, 'other.db');
  const other = new Database(foreign);
  other.exec('CREATE TABLE t (x)');
  other.close();
  t.throws(() => openAsyncSqliteStore(foreign), /not an ekmd store/);
});

t.test('leased keys left by a process that died are deleted at the next open', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const first = openAsyncSqliteStore(path);
  const lease = await first.grantLease(10);
  await lease.put('alive/1', 1);
  await first.put('kept', 1);
  // As if the process died: the file is left as it is, nothing revoked.
  (first as unknown as { db: Database.Database }).db.close();
  const second = openAsyncSqliteStore(path);
  t.teardown(() => second.close());
  t.equal(await second.get('alive/1'), undefined);
  t.equal((await second.get('kept'))!.value, 1);
});
