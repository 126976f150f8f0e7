import t from 'tap';
import Database from 'better-sqlite3';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { openSqliteStore, StoreError, type StoreChange } from '../../src/store';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/migrations';
import { tempDir } from './tmpdir';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

t.test('put, get, delete and revisions', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  t.equal(store.get('keyServers/1'), undefined);
  t.equal(await store.put('keyServers/1', { name: 'a', port: 5696 }), 1);
  t.equal(await store.put('keyServers/1', { name: 'b', port: 5696 }), 2);
  t.same(store.get('keyServers/1'), {
    key: 'keyServers/1',
    value: { name: 'b', port: 5696 },
    revision: 2,
  });
  t.equal(await store.delete('keyServers/1'), true);
  t.equal(await store.delete('keyServers/1'), false);
  t.equal(store.get('keyServers/1'), undefined);
  t.same(store.list('keyServers/'), []);
  t.equal(await store.put('keyServers/1', null), 4, 'a recreated key continues after its delete');
});

t.test('values come back as fresh copies', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  const value = { list: [1, 2] };
  await store.put('a', value);
  value.list.push(3);
  const got = store.get<{ list: number[] }>('a')!;
  t.same(got.value, { list: [1, 2] });
  got.value.list.push(9);
  t.same(store.get('a')!.value, { list: [1, 2] });
});

t.test('compare-and-set writes only on the expected revision', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  t.equal(await store.compareAndSet('cluster', 1, 'x'), false, 'absent key is revision 0');
  t.equal(store.get('cluster'), undefined);
  t.equal(await store.compareAndSet('cluster', 0, 'first'), true);
  t.equal(await store.compareAndSet('cluster', 0, 'second'), false);
  t.equal(store.get('cluster')!.value, 'first');
  t.equal(await store.compareAndSet('cluster', 1, 'second'), true);
  t.same(store.get('cluster'), { key: 'cluster', value: 'second', revision: 2 });
  await t.rejects(store.compareAndSet('cluster', -1, 'x'), StoreError);
  // Deleted and re-created meanwhile: a revision from before must not match.
  await store.delete('cluster');
  t.equal(await store.compareAndSet('cluster', 2, 'stale'), false, 'deleted key is absent');
  t.equal(await store.compareAndSet('cluster', 0, 'again'), true, 'absent: expected 0 creates');
  t.same(store.get('cluster'), { key: 'cluster', value: 'again', revision: 4 });
  t.equal(await store.compareAndSet('cluster', 1, 'aba'), false, 'no ABA on an old revision');
});

t.test('list by prefix, in key order, wildcards taken literally', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  for (const k of [
    'keyServers/2',
    'keyServers/1',
    'keyServersX',
    'keyProviders/1',
    'a*b/1',
    'aXb/1',
  ]) {
    await store.put(k, k);
  }
  t.same(
    store.list('keyServers/').map((e) => e.key),
    ['keyServers/1', 'keyServers/2'],
  );
  t.same(
    store.list('a*b/').map((e) => e.key),
    ['a*b/1'],
  );
  t.same(
    store.list('a?b/').map((e) => e.key),
    [],
  );
  t.equal(store.list('').length, 6);
  t.same(store.list('nothing/'), []);
});

t.test('a transaction commits all its writes or none', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  await store.put('n', 1);
  await t.rejects(
    store.transaction((tx) => {
      tx.put('n', 2);
      tx.put('m', 1);
      throw new Error('abort');
    }),
    /abort/,
  );
  t.same(store.get('n'), { key: 'n', value: 1, revision: 1 });
  t.equal(store.get('m'), undefined);
  const r = await store.transaction((tx) => {
    tx.put('n', (tx.get<number>('n')!.value as number) + 1);
    tx.delete('n2');
    return tx.list('n').length;
  });
  t.equal(r, 1);
  t.equal(store.get('n')!.value, 2);
});

t.test('an async transaction function is refused and rolled back', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  await t.rejects(
    store.transaction(async (tx) => {
      tx.put('x', 1);
    }),
    /must be synchronous/,
  );
  t.equal(store.get('x'), undefined);
});

t.test('watchers see committed changes only, after commit', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  const seen: StoreChange[] = [];
  const stop = store.watch('keyServers/', (e) => {
    // After commit: the change is already readable.
    t.same(store.get(e.key)?.value, e.type === 'put' ? e.value : undefined);
    seen.push(e);
  });
  store.watch('', () => {
    throw new Error('a broken watcher');
  });
  await store.put('keyServers/1', { a: 1 });
  await store.put('other', 1);
  await t.rejects(
    store.transaction((tx) => {
      tx.put('keyServers/2', 1);
      throw new Error('abort');
    }),
  );
  let nested: Promise<unknown> | undefined;
  await store.transaction((tx) => {
    tx.put('keyServers/3', 3);
    t.equal(seen.length, 1, 'nothing delivered before commit');
    nested = store.transaction((inner) => inner.delete('keyServers/1'));
    nested.catch(() => undefined);
    tx.delete('keyServers/1');
  });
  await t.rejects(nested!, /a store write inside a transaction/, 'a nested write is refused');
  t.same(seen, [
    { type: 'put', key: 'keyServers/1', value: { a: 1 }, revision: 1 },
    { type: 'put', key: 'keyServers/3', value: 3, revision: 3 },
    { type: 'delete', key: 'keyServers/1', revision: 3 },
  ]);
  stop();
  await store.put('keyServers/4', 4);
  t.equal(seen.length, 3, 'unsubscribed');
});

t.test('bad keys and values are refused and change nothing', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  await t.rejects(store.put('', 1), StoreError);
  await t.rejects(store.put('a\u0000b', 1), /control character/);
  await t.rejects(store.put('k', { n: NaN } as never), /finite/);
  await t.rejects(store.put('k', { d: new Date() } as never), /not JSON/);
  await t.rejects(store.put('k', [undefined] as never), /undefined is not JSON/);
  t.throws(() => store.get(42 as never), StoreError);
  t.same(store.list(''), []);
});

t.test('file 0600 in a directory made 0700; WAL and synchronous FULL', async (t) => {
  const dir = join(tempDir(t), 'state');
  const path = join(dir, 'ekmd.db');
  const store = openSqliteStore(path);
  await store.put('a', 1);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(statSync(path + '-wal').mode & 0o777, 0o600);
  await store.close();
  const db = new Database(path, { readonly: true });
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

t.test('data survives close and reopen; closed store refuses use', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const a = openSqliteStore(path);
  await a.put('x', { v: 1 });
  await a.close();
  await a.close();
  await t.rejects(a.put('y', 1), /closed/);
  const b = openSqliteStore(path);
  t.same(b.get('x'), { key: 'x', value: { v: 1 }, revision: 1 });
  await b.close();
});

t.test('a database from a newer schema is refused and left untouched', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  await openSqliteStore(path).close();
  const db = new Database(path);
  db.pragma('user_version = 99');
  db.close();
  const before = sha(path);
  t.throws(() => openSqliteStore(path), /schema version 99, newer than this ekmd supports/);
  t.equal(sha(path), before);
});

t.test('a corrupt file is refused and left untouched', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  writeFileSync(path, Buffer.alloc(8192, 0x5a));
  const before = sha(path);
  t.throws(() => openSqliteStore(path), /not a readable database/);
  t.equal(sha(path), before);
});

t.test('a damaged page of a real store is refused', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const s = openSqliteStore(path);
  for (let i = 0; i < 200; i++) await s.put(`k/${i}`, 'x'.repeat(200));
  await s.close(); // checkpoints the WAL into the main file
  const bytes = readFileSync(path);
  bytes.fill(0xff, 4096 + 8, 4096 + 200); // inside page 2, past its header byte
  writeFileSync(path, bytes);
  const before = sha(path);
  t.throws(() => openSqliteStore(path), StoreError);
  t.equal(sha(path), before);
});

t.test("another application's SQLite database is refused", async (t) => {
  const path = join(tempDir(t), 'other.db');
  const db = new Database(path);
  db.exec('CREATE TABLE t (x)');
  db.close();
  t.throws(() => openSqliteStore(path), /not an ekmd store/);
});

t.test('backup writes a consistent 0600 copy and never overwrites', async (t) => {
  const dir = tempDir(t);
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(() => store.close());
  await store.put('a', 1);
  await store.put('b', { c: [2] });
  const dest = join(dir, 'backup.db');
  store.backup(dest);
  t.equal(statSync(dest).mode & 0o777, 0o600);
  t.throws(() => store.backup(dest), /already exists/);
  const copy = openSqliteStore(dest, { readonly: true });
  t.same(copy.list(''), store.list(''));
  await copy.close();
});

t.test('read-only open reads but refuses writes', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const w = openSqliteStore(path);
  await w.put('a', 1);
  await w.close();
  const r = openSqliteStore(path, { readonly: true });
  t.teardown(() => r.close());
  t.equal(r.get('a')!.value, 1);
  await t.rejects(r.put('b', 1), /read-only/);
  // Offline backup (ekmctl) while a writer has the store open.
  const live = openSqliteStore(path);
  t.teardown(() => live.close());
  await live.put('c', 2);
  const dest = join(path, '..', 'offline-backup.db');
  r.backup(dest);
  const copy = openSqliteStore(dest, { readonly: true });
  t.same(
    copy.list('').map((e) => e.key),
    ['a', 'c'],
  );
  await copy.close();
  t.throws(() => openSqliteStore(join(path, '..', 'missing.db'), { readonly: true }), StoreError);
});

t.test('a watcher that writes: every watcher still sees commit order', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  const raised: Promise<number>[] = [];
  store.watch('drives/', (e) => {
    if (e.type === 'put') raised.push(store.put(`faults/${e.key}`, 'raised'));
  });
  const seen: string[] = [];
  store.watch('', (e) => seen.push(e.key));
  await store.transaction((tx) => {
    tx.put('drives/1', 1);
    tx.put('drives/2', 2);
  });
  await Promise.all(raised);
  t.same(seen, ['drives/1', 'drives/2', 'faults/drives/1', 'faults/drives/2']);
  t.equal(store.list('faults/').length, 2);
});

t.test('a schema 1 store is migrated in place and keeps its data', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const db = new Database(path);
  MIGRATIONS[0](db);
  db.prepare('INSERT INTO kv (key, value, revision) VALUES (?, ?, ?)').run('a', '{"v":1}', 3);
  db.pragma(`application_id = ${0x454b4d44}`);
  db.pragma('user_version = 1');
  db.close();
  const store = openSqliteStore(path);
  t.same(store.get('a'), { key: 'a', value: { v: 1 }, revision: 3 });
  t.equal(await store.delete('a'), true);
  t.equal(await store.put('a', 2), 5);
  await store.close();
  const check = new Database(path, { readonly: true });
  t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  check.close();
});

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

t.test('a schema 2 file keeps its revisions, and every key only moves forward', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  schema2File(path);
  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  t.same(store.get('a'), { key: 'a', value: { v: 1 }, revision: 3 });
  t.equal(store.revision(), 7, 'the counter starts at the highest revision');
  const next = await store.put('a', 2);
  t.ok(next > 7, `a's next revision (${next}) is past every revision before the upgrade`);
  t.equal(await store.compareAndSet('gone', 4, 'x'), false, "the tombstone's revision is not live");
  t.equal(await store.compareAndSet('gone', 0, 'back'), true);
  t.ok(store.get('gone')!.revision > next);
  const check = new Database(path, { readonly: true });
  t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  check.close();
});

t.test('leased keys left by a process that died are deleted at the next open', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const first = openSqliteStore(path);
  const lease = await first.grantLease(10);
  await lease.put('alive/1', 1);
  await first.put('kept', 1);
  // As if the process died: the file is left as it is, nothing revoked.
  (first as unknown as { db: Database.Database }).db.close();
  const second = openSqliteStore(path);
  t.teardown(() => second.close());
  t.equal(second.get('alive/1'), undefined);
  t.equal(second.get('kept')!.value, 1);
  const readonly = openSqliteStore(path, { readonly: true });
  t.equal(readonly.get('kept')!.value, 1, 'a read-only open reads, and deletes nothing');
  await readonly.close();
});
