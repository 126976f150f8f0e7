// The load runners, short: concurrent API clients with mixed reads and writes, and
// consecutive boots under EAR. Zero errors and zero failed boots; figures as comments
// (speed itself is measured by `npm run reliability`, not asserted here).
import t from 'tap';
import { runApiLoad, runBootLoad } from '../../scripts/reliability/load';
import { shippedEnvironment } from '../../scripts/reliability/load/unit-env';

t.test(
  '20 API clients for 5 s: no error; ekmd as the unit starts it, its RSS sampled',
  async (t) => {
    const r = await runApiLoad({ clients: 20, durationMs: 5000, idleAfterMs: 500 });
    t.equal(r.errors, 0, `errors: ${r.errorSamples.join(' | ')}`);
    t.ok(r.reads > 0 && r.writes > 0, `${r.reads} reads and ${r.writes} writes made`);
    t.ok(r.rssBeforeMiB! > 0 && r.rssAfterMiB! > 0, 'ekmd RSS read before and after');
    t.ok(r.rssDuringSamples >= 2, `RSS sampled during the run (${r.rssDuringSamples} samples)`);
    t.ok(r.rssMaxDuringMiB! >= r.rssAfterMiB!, 'the largest sample is at least the last');
    t.ok(r.rssIdleMiB! > 0, 'RSS read again after the idle wait');
    for (const [name, value] of Object.entries(shippedEnvironment())) {
      // Under tap, its coverage hook adds its own NODE_OPTIONS beside the unit's.
      if (name === 'NODE_OPTIONS') t.match(r.ekmdEnv[name], value, `ekmd's ${name} has ${value}`);
      else t.equal(r.ekmdEnv[name], value, `ekmd's environment holds the unit's ${name}`);
    }
    t.comment(
      `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, RSS ${r.rssBeforeMiB} → max ${r.rssMaxDuringMiB} → ` +
        `${r.rssAfterMiB} → ${r.rssIdleMiB} MiB idle`,
    );
  },
);

t.test('3 consecutive boots with 24 drives: every drive unlocked each time', async (t) => {
  const r = await runBootLoad({ boots: 3, drives: 24 });
  t.equal(r.failures, 0, `failures: ${r.failureSamples.join(' | ')}`);
  t.ok(r.p50Ms > 0, 'boots were timed');
  t.comment(`boot p50 ${r.p50Ms} ms, max ${r.maxMs} ms; enable ${r.enableMs} ms`);
});
