// Group commit of audit events in a real SQLite store: events of one event-loop turn are
// one transaction, each append resolves once its record is durable, and a bad event costs
// the others nothing.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditBatcher, readAudit, type AuditEvent } from '../../../src/cluster/audit';
import { openSqliteStore, type SqliteStore } from '../../../src/store';
import type { StoreTx } from '../../../src/store/store';

function countingStore(t: { teardown(fn: () => void): void }): {
  store: SqliteStore;
  commits: () => number;
} {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-audit-batch-'));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let commits = 0;
  const transaction = store.transaction.bind(store);
  store.transaction = <R>(fn: (tx: StoreTx) => R): Promise<R> => {
    commits++;
    return transaction(fn);
  };
  return { store, commits: () => commits };
}

const event = (i: number): AuditEvent => ({
  source: 'api',
  action: 'ModifyKeyServerKmip',
  user: 'admin',
  remoteAddress: '127.0.0.1',
  params: { keyServerID: i },
  outcome: 'ok',
});

t.test('appends of one turn: one transaction, every record in order', async (t) => {
  const { store, commits } = countingStore(t);
  const batcher = new AuditBatcher(store);
  const appends = Array.from({ length: 20 }, (_, i) => batcher.append(event(i)));
  t.equal(readAudit(store).length, 0, 'nothing written before the turn ends');
  await Promise.all(appends);
  t.equal(commits(), 1, 'one commit for 20 events');
  const records = readAudit(store);
  t.same(
    records.map((r) => [r.seq, r.params.keyServerID]),
    Array.from({ length: 20 }, (_, i) => [i + 1, i]),
  );
  await batcher.append(event(20));
  t.equal(commits(), 2, 'a later turn commits on its own');
  t.equal(readAudit(store).length, 21);
});

t.test('a bad event is refused; the others of its batch are recorded', async (t) => {
  const { store } = countingStore(t);
  const batcher = new AuditBatcher(store);
  const outcomes = await Promise.allSettled([
    batcher.append(event(1)),
    batcher.append({ source: 'api', action: 'not an action!', outcome: 'ok' }),
    batcher.append(event(3)),
  ]);
  t.same(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.match((outcomes[1] as PromiseRejectedResult).reason.message, 'bad audit action');
  t.same(
    readAudit(store).map((r) => r.params.keyServerID),
    [1, 3],
  );
});

t.test('retention still applies across batches', async (t) => {
  const { store } = countingStore(t);
  const batcher = new AuditBatcher(store, 5);
  await Promise.all(Array.from({ length: 4 }, (_, i) => batcher.append(event(i))));
  await Promise.all(Array.from({ length: 4 }, (_, i) => batcher.append(event(4 + i))));
  t.same(
    readAudit(store).map((r) => r.seq),
    [4, 5, 6, 7, 8],
  );
});
