// Where offline commands find ekmd's store, and how --since reads a time.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR, parseSince, stateDirOf } from '../../../src/cli/client/offline';

t.test(
  'stateDir: flag, then EKMCTL_STATE_DIR, then the dev daemon, then the default',
  async (t) => {
    const cwd = mkdtempSync(join(tmpdir(), 'ekmctl-offline-'));
    t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
    t.equal(stateDirOf(undefined, {}, cwd), DEFAULT_STATE_DIR);
    mkdirSync(join(cwd, '.state'));
    writeFileSync(join(cwd, '.state', 'ekmd.json'), JSON.stringify({ stateDir: 'ekmd' }));
    t.equal(stateDirOf(undefined, {}, cwd), join(cwd, '.state', 'ekmd'), 'relative to .state');
    t.equal(stateDirOf(undefined, { EKMCTL_STATE_DIR: '/srv/e' }, cwd), '/srv/e');
    t.equal(stateDirOf('/flag', { EKMCTL_STATE_DIR: '/srv/e' }, cwd), '/flag');
    writeFileSync(join(cwd, '.state', 'ekmd.json'), '{not json');
    t.equal(stateDirOf(undefined, {}, cwd), DEFAULT_STATE_DIR, 'a broken dev config is ignored');
  },
);

t.test('--since: durations back from now, ISO dates and times', async (t) => {
  const now = Date.parse('2026-06-15T12:00:00Z');
  t.equal(parseSince('30s', now).toISOString(), '2026-06-15T11:59:30.000Z');
  t.equal(parseSince('15m', now).toISOString(), '2026-06-15T11:45:00.000Z');
  t.equal(parseSince('2h', now).toISOString(), '2026-06-15T10:00:00.000Z');
  t.equal(parseSince('7d', now).toISOString(), '2026-06-08T12:00:00.000Z');
  t.equal(parseSince('2026-01-31', now).toISOString(), '2026-01-31T00:00:00.000Z');
  t.equal(parseSince('2026-01-31T08:30', now).toISOString(), '2026-01-31T08:30:00.000Z', 'UTC');
  t.equal(parseSince('2026-01-31 08:30:15Z', now).toISOString(), '2026-01-31T08:30:15.000Z');
  t.equal(parseSince('2026-01-31T08:30+02:00', now).toISOString(), '2026-01-31T06:30:00.000Z');
  for (const bad of ['', 'yesterday', '5 min', '-1h', '2026-13-45', '1y', '2026-01-31T25:00']) {
    t.throws(() => parseSince(bad, now), /bad --since/, JSON.stringify(bad));
  }
});
