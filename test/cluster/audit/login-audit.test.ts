// Refused logins are rate-limited on their way to the audit log: a burst one by one, then
// the rest (and every throttled attempt) counted into one summary per interval.
import t from 'tap';
import { setTimeout as delay } from 'node:timers/promises';
import { LoginAudit, type AuditEvent, type FailedLoginReport } from '../../../src/cluster/audit';

const failure = (address: string, throttled = false): FailedLoginReport => ({
  user: 'admin',
  remoteAddress: address,
  failures: 1,
  reason: throttled ? 'too many attempts' : 'wrong user name or password',
  throttled,
});

t.test('a burst one by one, then a summary', async (t) => {
  const events: AuditEvent[] = [];
  const audit = new LoginAudit(async (e) => void events.push(e), undefined, {
    burst: 3,
    perSecond: 0,
    summaryIntervalMs: 200,
  });
  for (let i = 0; i < 10; i++) audit.record(failure(`10.0.0.${i % 4}`));
  audit.record(failure('10.0.0.9', true));
  await delay(0);
  t.same(
    events.map((e) => e.remoteAddress),
    ['10.0.0.0', '10.0.0.1', '10.0.0.2'],
    'the burst is recorded one by one',
  );
  t.match(events[0], {
    source: 'auth',
    action: 'Login',
    outcome: 'xUnauthorized',
    params: { failures: 1 },
  });
  await delay(300);
  t.equal(events.length, 4, 'the summary is written after its interval, without a flush');
  t.match(events[3], {
    source: 'auth',
    action: 'Login',
    params: { suppressed: 8, addresses: 5, seconds: 1 },
    details: '8 failures from 5 addresses suppressed in 1 s',
  });
  await audit.flush();
  t.equal(events.length, 4, 'nothing more to summarise');
});

t.test('throttled attempts are only summarised; the rate refills', async (t) => {
  const events: AuditEvent[] = [];
  const audit = new LoginAudit(async (e) => void events.push(e), undefined, {
    burst: 1,
    perSecond: 20,
    summaryIntervalMs: 60_000,
  });
  audit.record(failure('10.0.0.1', true));
  audit.record(failure('10.0.0.2'));
  audit.record(failure('10.0.0.3'));
  await delay(120);
  audit.record(failure('10.0.0.4'));
  await audit.flush();
  t.same(
    events.map((e) => e.remoteAddress ?? e.details),
    ['10.0.0.2', '10.0.0.4', '2 failures from 2 addresses suppressed in 1 s'],
  );
});

t.test('a failing write is logged, never thrown', async (t) => {
  const errors: unknown[] = [];
  const logger = { error: (o: unknown) => errors.push(o) } as never;
  const audit = new LoginAudit(() => Promise.reject(new Error('disk full')), logger);
  t.doesNotThrow(() => audit.record(failure('10.0.0.1')));
  await audit.flush();
  t.equal(errors.length, 1);
});
