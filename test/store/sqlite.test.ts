import t from 'tap';
import Database from 'better-sqlite3';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { openSqliteStore, StoreError, type WatchEvent } from '../../src/store';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/migrations';
import { tempDir } from './tmpdir';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

t.test('put, get, delete and revisions', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  t.equal(store.get('keyServers/1'), undefined);
  t.equal(store.put('keyServers/1', { name: 'a', port: 5696 }), 1);
  t.equal(store.put('keyServers/1', { name: 'b', port: 5696 }), 2);
  t.same(store.get('keyServers/1'), {
    key: 'keyServers/1',
    value: { name: 'b', port: 5696 },
    revision: 2,
  });
  t.equal(store.delete('keyServers/1'), true);
  t.equal(store.delete('keyServers/1'), false);
  t.equal(store.get('keyServers/1'), undefined);
  t.same(store.list('keyServers/'), []);
  t.equal(store.put('keyServers/1', null), 4, 'a recreated key continues after its delete');
});

t.test('values come back as fresh copies', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  const value = { list: [1, 2] };
  store.put('a', value);
  value.list.push(3);
  const got = store.get<{ list: number[] }>('a')!;
  t.same(got.value, { list: [1, 2] });
  got.value.list.push(9);
  t.same(store.get('a')!.value, { list: [1, 2] });
});

t.test('compare-and-set writes only on the expected revision', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  t.equal(store.compareAndSet('cluster', 1, 'x'), false, 'absent key is revision 0');
  t.equal(store.get('cluster'), undefined);
  t.equal(store.compareAndSet('cluster', 0, 'first'), true);
  t.equal(store.compareAndSet('cluster', 0, 'second'), false);
  t.equal(store.get('cluster')!.value, 'first');
  t.equal(store.compareAndSet('cluster', 1, 'second'), true);
  t.same(store.get('cluster'), { key: 'cluster', value: 'second', revision: 2 });
  t.throws(() => store.compareAndSet('cluster', -1, 'x'), StoreError);
  // Deleted and re-created meanwhile: a revision from before must not match.
  store.delete('cluster');
  t.equal(store.compareAndSet('cluster', 2, 'stale'), false, 'deleted key is absent');
  t.equal(store.compareAndSet('cluster', 0, 'again'), true, 'absent: expected 0 creates');
  t.same(store.get('cluster'), { key: 'cluster', value: 'again', revision: 4 });
  t.equal(store.compareAndSet('cluster', 1, 'aba'), false, 'no ABA on an old revision');
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
    store.put(k, k);
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
  store.put('n', 1);
  t.throws(
    () =>
      store.transaction((tx) => {
        tx.put('n', 2);
        tx.put('m', 1);
        throw new Error('abort');
      }),
    /abort/,
  );
  t.same(store.get('n'), { key: 'n', value: 1, revision: 1 });
  t.equal(store.get('m'), undefined);
  const r = store.transaction((tx) => {
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
  t.throws(
    () =>
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
  const seen: WatchEvent[] = [];
  const stop = store.watch('keyServers/', (e) => {
    // After commit: the change is already readable.
    t.same(store.get(e.key)?.value, e.value);
    seen.push(e);
  });
  store.watch('', () => {
    throw new Error('a broken watcher');
  });
  store.put('keyServers/1', { a: 1 });
  store.put('other', 1);
  t.throws(() =>
    store.transaction((tx) => {
      tx.put('keyServers/2', 1);
      throw new Error('abort');
    }),
  );
  store.transaction((tx) => {
    tx.put('keyServers/3', 3);
    t.equal(seen.length, 1, 'nothing delivered before commit');
    store.transaction((inner) => inner.delete('keyServers/1'));
    t.equal(seen.length, 1, 'a nested transaction delivers with the outer commit');
  });
  t.same(seen, [
    { type: 'put', key: 'keyServers/1', value: { a: 1 }, revision: 1 },
    { type: 'put', key: 'keyServers/3', value: 3, revision: 1 },
    { type: 'delete', key: 'keyServers/1', revision: 2 },
  ]);
  stop();
  store.put('keyServers/4', 4);
  t.equal(seen.length, 3, 'unsubscribed');
});

t.test('bad keys and values are refused and change nothing', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  t.throws(() => store.put('', 1), StoreError);
  t.throws(() => store.put('a\u0000b', 1), /control character/);
  t.throws(() => store.put('k', { n: NaN } as never), /finite/);
  t.throws(() => store.put('k', { d: new Date() } as never), /not JSON/);
  t.throws(() => store.put('k', [undefined] as never), /undefined is not JSON/);
  t.throws(() => store.get(42 as never), StoreError);
  t.same(store.list(''), []);
});

t.test('file 0600 in a directory made 0700; WAL and synchronous FULL', async (t) => {
  const dir = join(tempDir(t), 'state');
  const path = join(dir, 'ekmd.db');
  const store = openSqliteStore(path);
  store.put('a', 1);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(statSync(path + '-wal').mode & 0o777, 0o600);
  store.close();
  const db = new Database(path, { readonly: true });
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

t.test('data survives close and reopen; closed store refuses use', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const a = openSqliteStore(path);
  a.put('x', { v: 1 });
  a.close();
  a.close();
  t.throws(() => a.put('y', 1), /closed/);
  const b = openSqliteStore(path);
  t.same(b.get('x'), { key: 'x', value: { v: 1 }, revision: 1 });
  b.close();
});

t.test('a database from a newer schema is refused and left untouched', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  openSqliteStore(path).close();
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
  for (let i = 0; i < 200; i++) s.put(`k/${i}`, 'x'.repeat(200));
  s.close(); // checkpoints the WAL into the main file
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
  store.put('a', 1);
  store.put('b', { c: [2] });
  const dest = join(dir, 'backup.db');
  store.backup(dest);
  t.equal(statSync(dest).mode & 0o777, 0o600);
  t.throws(() => store.backup(dest), /already exists/);
  const copy = openSqliteStore(dest, { readonly: true });
  t.same(copy.list(''), store.list(''));
  copy.close();
});

t.test('read-only open reads but refuses writes', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  const w = openSqliteStore(path);
  w.put('a', 1);
  w.close();
  const r = openSqliteStore(path, { readonly: true });
  t.teardown(() => r.close());
  t.equal(r.get('a')!.value, 1);
  t.throws(() => r.put('b', 1), /read-only/);
  // Offline backup (ekmctl) while a writer has the store open.
  const live = openSqliteStore(path);
  t.teardown(() => live.close());
  live.put('c', 2);
  const dest = join(path, '..', 'offline-backup.db');
  r.backup(dest);
  const copy = openSqliteStore(dest, { readonly: true });
  t.same(
    copy.list('').map((e) => e.key),
    ['a', 'c'],
  );
  copy.close();
  t.throws(() => openSqliteStore(join(path, '..', 'missing.db'), { readonly: true }), StoreError);
});

t.test('a watcher that writes: every watcher still sees commit order', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  store.watch('drives/', (e) => {
    if (e.type === 'put') store.put(`faults/${e.key}`, 'raised');
  });
  const seen: string[] = [];
  store.watch('', (e) => seen.push(e.key));
  store.transaction((tx) => {
    tx.put('drives/1', 1);
    tx.put('drives/2', 2);
  });
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
  t.equal(store.delete('a'), true);
  t.equal(store.put('a', 2), 5);
  store.close();
  const check = new Database(path, { readonly: true });
  t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  check.close();
});
