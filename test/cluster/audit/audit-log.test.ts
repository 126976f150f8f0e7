// The audit log in a real SQLite store: appended with a sequence number, kept to a fixed
// number of rows, read back oldest first (also read-only), secrets never written.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  auditParams,
  isAuditedMethod,
  readAudit,
  recordAudit,
  recordAuditIn,
  REDACTED,
  withoutAudit,
} from '../../../src/cluster/audit';
import { openSqliteStore, type SqliteStore } from '../../../src/store';

function tempStore(t: { teardown(fn: () => void): void }): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-audit-'));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

t.test('records events in order with every member present', async (t) => {
  const store = tempStore(t);
  const first = await recordAudit(store, {
    source: 'api',
    action: 'CreateKeyProviderKmip',
    user: 'admin',
    remoteAddress: '127.0.0.1',
    params: { keyProviderName: 'prod' },
    outcome: 'ok',
  });
  await recordAudit(store, {
    source: 'service',
    action: 'DestroyAuthenticationKey',
    outcome: 'ok',
  });
  const records = readAudit(store);
  t.same(
    records.map((r) => [r.seq, r.action, r.user, r.outcome]),
    [
      [1, 'CreateKeyProviderKmip', 'admin', 'ok'],
      [2, 'DestroyAuthenticationKey', '', 'ok'],
    ],
  );
  t.same(records[0], first);
  t.match(records[1], { remoteAddress: '', params: {}, details: '', source: 'service' });
  t.ok(Date.parse(records[0].date) <= Date.now());
});

t.test('keeps only the last N events, in a fixed number of rows', async (t) => {
  const store = tempStore(t);
  for (let i = 1; i <= 25; i++) {
    await recordAudit(
      store,
      { source: 'api', action: 'AddDrives', outcome: 'ok', details: `n${i}` },
      10,
    );
  }
  const records = readAudit(store);
  t.same(
    records.map((r) => r.seq),
    [16, 17, 18, 19, 20, 21, 22, 23, 24, 25],
  );
  t.equal(records[9].details, 'n25');
  t.equal(store.list('audit/records/').length, 10, 'slots are reused, not added');
});

t.test('since filters by date; a read-only store reads the same', async (t) => {
  const store = tempStore(t);
  await recordAudit(store, { source: 'api', action: 'CreateCluster', outcome: 'ok' });
  const later = new Date(Date.now() + 60_000);
  t.equal(readAudit(store, { since: later }).length, 0);
  t.equal(readAudit(store, { since: new Date(0) }).length, 1);
  const ro = openSqliteStore(store.path, { readonly: true });
  t.teardown(() => ro.close());
  t.same(readAudit(ro), readAudit(store));
  await t.rejects(recordAudit(ro, { source: 'api', action: 'X', outcome: 'ok' }), /read-only/);
});

t.test('commits with the caller transaction, or not at all', async (t) => {
  const store = tempStore(t);
  await t.rejects(
    store.transaction((tx) => {
      tx.put('keys/k1', { state: 'live' });
      recordAuditIn(tx, { source: 'service', action: 'CreateKey', outcome: 'ok' });
      throw new Error('rolled back');
    }),
  );
  t.same(readAudit(store), []);
  t.equal(store.get('keys/k1'), undefined);
});

t.test('bad action or outcome names are refused and write nothing', async (t) => {
  const store = tempStore(t);
  await t.rejects(recordAudit(store, { source: 'api', action: 'a b', outcome: 'ok' }));
  await t.rejects(recordAudit(store, { source: 'api', action: 'A', outcome: 'failed!' }));
  t.same(store.list(''), []);
});

t.test('parameters: names kept, secrets redacted, certificates fingerprinted', async (t) => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const out = auditParams({
    username: 'admin',
    password: 'hunter2-S3CRET',
    kmipKeyServerName: 'kms-1',
    kmipKeyServerHostnames: ['a.example', 'b.example'],
    kmipCaCertificate: pem,
    keyProviderID: 3,
    driveIDs: [1, 2],
    force: true,
    attributes: { note: 'x', apiKey: 'abc', nested: { pin: '1234' } },
    blob: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----',
    long: 'y'.repeat(1000),
    control: 'a\u0000b\nc',
  });
  t.match(out, {
    username: 'admin',
    password: REDACTED,
    kmipKeyServerName: 'kms-1',
    kmipKeyServerHostnames: ['a.example', 'b.example'],
    kmipCaCertificate: /^sha256:[0-9a-f]{64}$/,
    keyProviderID: 3,
    driveIDs: [1, 2],
    force: true,
    attributes: { note: 'x', apiKey: REDACTED, nested: { pin: REDACTED } },
    blob: REDACTED,
    control: 'a b c',
  });
  t.equal((out.long as string).length, 256);
  const text = JSON.stringify(out);
  t.notMatch(text, /hunter2|1234|abc|PRIVATE|MII/);
  t.same(auditParams(out), out, 'redacting twice changes nothing');
});

t.test('which methods are audited', async (t) => {
  for (const m of ['CreateCluster', 'EnableEncryptionAtRest', 'SecureEraseDrives']) {
    t.ok(isAuditedMethod(m), m);
  }
  t.ok(isAuditedMethod('GetClientCertificateSignRequest'), 'a CSR is made');
  for (const m of ['GetAPI', 'ListDrives', 'TestKeyServerKmip', 'GetClusterInfo']) {
    t.notOk(isAuditedMethod(m), m);
  }
});

t.test('withoutAudit leaves the rest of the store', async (t) => {
  const entries = [{ key: 'audit/nextSeq' }, { key: 'keyServers/1' }, { key: 'audit/records/1' }];
  t.same(withoutAudit(entries), [{ key: 'keyServers/1' }]);
});

t.test('refused logins have their own ring: they never evict operations', async (t) => {
  const store = tempStore(t);
  const op = (n: number) =>
    recordAudit(
      store,
      { source: 'api', action: 'AddDrives', outcome: 'ok', details: `op${n}` },
      5,
      3,
    );
  const login = (n: number) =>
    recordAudit(
      store,
      { source: 'auth', action: 'Login', outcome: 'xUnauthorized', details: `login${n}` },
      5,
      3,
    );
  await op(1);
  await op(2);
  for (let i = 1; i <= 10; i++) await login(i);
  await op(3);
  t.same(
    readAudit(store).map((r) => r.details),
    ['op1', 'op2', 'login8', 'login9', 'login10', 'op3'],
    'every operation, the last 3 logins, in sequence order',
  );
  t.equal(store.list('audit/logins/').length, 3);
  t.equal(store.list('audit/records/').length, 3);
});
