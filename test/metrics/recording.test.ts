// Unlocks and rekey progress are recorded only while a metrics server records: before, not
// even prom-client is loaded (checked in a fresh process); after, the numbers show.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const RECORDING = join(__dirname, '../../src/metrics/recording.js');
const METRICS = join(__dirname, '../../src/metrics/index.js');

t.test('metrics are recorded only while switched on', async (t) => {
  const script = `
    const r = require(${JSON.stringify(RECORDING)});
    const loaded = () => Object.keys(require.cache).some((f) => f.includes('prom-client'));
    r.recordUnlocks([[5, true]]);
    r.recordRekeyProgress('sear', 1, 2);
    const before = { recording: r.recordingMetrics(), promClient: loaded() };
    const stop = r.startRecordingMetrics();
    r.recordUnlocks([[5, true], [7, false]]);
    r.recordRekeyProgress('sear', 1, 2);
    const during = { recording: r.recordingMetrics(), promClient: loaded() };
    stop();
    stop(); // twice is once
    const after = { recording: r.recordingMetrics() };
    require(${JSON.stringify(METRICS)}).eventRegistry.metrics().then((text) =>
      console.log(JSON.stringify({ before, during, after, text })));`;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  t.equal(out.status, 0, out.stderr);
  const r = JSON.parse(out.stdout) as {
    before: { recording: boolean; promClient: boolean };
    during: { recording: boolean; promClient: boolean };
    after: { recording: boolean };
    text: string;
  };
  t.same(r.before, { recording: false, promClient: false }, 'off: prom-client never loaded');
  t.same(r.during, { recording: true, promClient: true });
  t.same(r.after, { recording: false });
  t.match(r.text, /ekmd_drive_unlock_duration_seconds_count\{result="ok"\} 1\n/);
  t.match(r.text, /ekmd_drive_unlock_duration_seconds_count\{result="failed"\} 1\n/);
  t.match(r.text, /ekmd_rekey_progress_ratio\{kind="sear"\} 0\.5\n/);
});
