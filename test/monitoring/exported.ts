// What ekmd exports, from its own registry in this process: one of everything observed (a
// drive, a fault, an unlock, a KMIP request, rekey progress, a dropped syslog line), so
// that every metric shows its labels. The live-scrape test checks the same against a real
// daemon; this one is quick enough to run beside every dashboard and rules check.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putDrive } from '../../src/cluster/drives/drive-records';
import { FaultService } from '../../src/cluster/faults';
import { daemonRegistry } from '../../src/daemon/metrics';
import { reportKmipRequest } from '../../src/kmip/client/observer';
import { observeKmipRequests, observeUnlock, setRekeyProgress } from '../../src/metrics';
import { openSqliteStore } from '../../src/store';
import { labelsByMetric, parseExposition } from './promql';

type Teardown = { teardown(fn: () => unknown): void };

/** Label names per exported metric name (histograms as their _bucket/_sum/_count). */
export async function exportedInProcess(t: Teardown): Promise<Map<string, Set<string>>> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-exported-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(() => store.close());
  const faults = new FaultService(store);
  t.teardown(() => faults.close());
  await store.transaction((tx) =>
    putDrive(tx, {
      driveID: 1,
      serial: 'SIM-0001',
      path: '/dev/sim0',
      model: 'sim',
      capacity: 1 << 30,
      slot: 0,
      present: true,
      opal: true,
      status: 'active',
      type: 'volume',
      security: 'enabled',
      step: null,
      keyID: null,
      keyProviderID: null,
      ownerKeyID: null,
      driveSecurityFaultReason: '',
      driveFailureDetail: null,
    }),
  );
  await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server kms1 cannot be reached.');
  const stopKmip = observeKmipRequests();
  t.teardown(stopKmip);
  reportKmipRequest({ endpoint: '127.0.0.1:5696', operation: 'Get', ms: 12, result: 'ok' });
  observeUnlock(120, true);
  setRekeyProgress('sear', 1, 2);
  const registry = daemonRegistry({
    store,
    faults,
    faultSyslog: { counts: { sent: 0, dropped: 1 }, close() {} },
  });
  return labelsByMetric(parseExposition(await registry.metrics()));
}
