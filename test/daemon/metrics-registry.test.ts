// The daemon registry in process: observeUnlock and setRekeyProgress show in the text
// format; drives and faults are read from the store at each scrape.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultService } from '../../src/cluster/faults';
import { daemonRegistry, observeUnlock, setRekeyProgress } from '../../src/daemon/metrics';
import { openSqliteStore } from '../../src/store';

t.test('registry text', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(() => store.close());
  const faults = new FaultService(store);
  t.teardown(() => faults.close());
  const registry = daemonRegistry({ store, faults });

  observeUnlock(120, true);
  observeUnlock(4000, false);
  setRekeyProgress('sear', 3, 4);
  let text = await registry.metrics();
  t.match(text, /^ekmd_drive_unlock_duration_seconds_count\{result="ok"\} 1$/m);
  t.match(text, /^ekmd_drive_unlock_duration_seconds_bucket\{le="0.25",result="ok"\} 1$/m);
  t.match(text, /^ekmd_drive_unlock_duration_seconds_bucket\{le="2.5",result="failed"\} 0$/m);
  t.match(text, /^ekmd_rekey_progress_ratio\{kind="sear"\} 0.75$/m);
  t.notMatch(text, /^ekmd_faults\{/m, 'no faults yet');

  await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server down');
  await faults.reportNodeDrives('driveFailed', 1, [1, 2]);
  text = await registry.metrics();
  t.match(text, /^ekmd_faults\{code="kmipServerFault",severity="error"\} 1$/m);
  t.match(text, /^ekmd_faults\{code="driveFailed",severity="warning"\} 1$/m);
  await faults.resolve('kmipServerFault', { keyServerID: 1 });
  text = await registry.metrics();
  t.notMatch(text, /kmipServerFault/, 'a resolved fault leaves the gauge');
  setRekeyProgress('sear', 0, 0);
  t.match(await registry.metrics(), /^ekmd_rekey_progress_ratio\{kind="sear"\} 1$/m);
});
