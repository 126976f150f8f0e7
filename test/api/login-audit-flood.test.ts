// A flood of failed logins cannot wipe the audit log: 50,000 refused logins from 5,000
// addresses leave every state-changing record from before the flood in place, and the
// flood itself is summarised rather than recorded one by one.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicAuth } from '../../src/api/auth';
import type { AdminCredentials } from '../../src/cluster/admin';
import { AuditBatcher, LoginAudit, readAudit, recordAudit } from '../../src/cluster/audit';
import { openSqliteStore } from '../../src/store';

const ADDRESSES = 5_000;
const ATTEMPTS_PER_ADDRESS = 10;
const OPERATIONS = 300;

const basic = (user: string, pass: string) =>
  'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

t.test('50,000 failed logins from 5,000 addresses', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-login-flood-'));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const batcher = new AuditBatcher(store);
  // The history the flood must not erase: operations through the group commit, and a
  // service's own event.
  await Promise.all(
    Array.from({ length: OPERATIONS }, (_, i) =>
      batcher.append({
        source: 'api',
        action: 'ModifyKeyServerKmip',
        user: 'admin',
        remoteAddress: '10.0.0.1',
        params: { keyServerID: i },
        outcome: 'ok',
      }),
    ),
  );
  await recordAudit(store, {
    source: 'service',
    action: 'DestroyAuthenticationKey',
    outcome: 'ok',
  });
  const before = readAudit(store);
  t.equal(before.length, OPERATIONS + 1);

  // Every guess is wrong; the check itself is instant, so only the limits shape the flood.
  const admin = {
    revision: () => 0,
    verify: () => new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  } as unknown as AdminCredentials;
  const loginAudit = new LoginAudit((event) => batcher.append(event));
  const auth = new BasicAuth(admin, undefined, (f) => loginAudit.record(f));
  const started = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: ADDRESSES }, (_, a) => `10.${(a >> 8) & 255}.${a & 255}.9`).flatMap(
      (address, a) =>
        Array.from({ length: ATTEMPTS_PER_ADDRESS }, (_, i) =>
          auth.authenticate(basic(`user${a}`, `guess-${i}`), address),
        ),
    ),
  );
  await loginAudit.flush();
  t.equal(outcomes.length, ADDRESSES * ATTEMPTS_PER_ADDRESS);
  t.ok(
    outcomes.every((u) => u === undefined),
    'every attempt refused',
  );
  t.comment(`flood handled in ${Date.now() - started} ms`);

  const after = readAudit(store);
  const kept = new Set(after.map((r) => r.seq));
  t.ok(
    before.every((r) => kept.has(r.seq)),
    'every record from before the flood is still there',
  );
  t.same(
    after.filter((r) => r.source !== 'auth'),
    before,
    'unchanged, and no other record among them',
  );
  const logins = after.filter((r) => r.action === 'Login');
  const summaries = logins.filter((r) => typeof r.params.suppressed === 'number');
  const suppressed = summaries.reduce((n, r) => n + (r.params.suppressed as number), 0);
  t.ok(summaries.length >= 1, 'the flood is summarised');
  t.match(summaries[0].details, /^\d+ failures from \d+ addresses suppressed in \d+ s$/);
  t.equal(
    logins.length - summaries.length + suppressed,
    ADDRESSES * ATTEMPTS_PER_ADDRESS,
    'each failure recorded or counted in a summary',
  );
  t.ok(logins.length < 1000, `few login records (${logins.length})`);
  t.same(
    after.map((r) => r.seq),
    [...kept].sort((a, b) => a - b),
    'read back in sequence order',
  );
});
