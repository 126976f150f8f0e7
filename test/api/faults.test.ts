import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startApiServer } from '../../src/api';
import { faultMethods } from '../../src/api/methods/fault-methods';
import { API_CERT_FILE } from '../../src/store/state-files';
import { withoutAudit } from '../../src/cluster/audit';
import { FaultService } from '../../src/cluster/faults';
import { openSealer, openSqliteStore } from '../../src/store';
import { ElementClient } from './element-client';
import { ContactRecorder } from './fixtures';

const ADMIN = { username: 'admin', password: 'admin-secret-1' };

t.test('ListClusterFaults and ClearClusterFaults over HTTPS', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-faults-api-'));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  const faults = new FaultService(store);
  const api = await startApiServer({
    store,
    sealer: openSealer({ stateDir: dir }),
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: dir,
    bootstrapAdmin: ADMIN,
    tester: new ContactRecorder(),
    methods: faultMethods(faults),
  });
  const ca = readFileSync(join(dir, API_CERT_FILE), 'utf8');
  const client = new ElementClient(api.address.port, ca, ADMIN.username, ADMIN.password);
  t.teardown(async () => {
    client.close();
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ids = async (params: Record<string, unknown> = {}) =>
    ((await client.ok('ListClusterFaults', params)).faults as { clusterFaultID: number }[]).map(
      (f) => f.clusterFaultID,
    );

  const server = await faults.raise(
    'kmipServerFault',
    { keyServerID: 1 },
    'Key server kms-1: refused.',
  );
  const drives = (await faults.reportNodeDrives('driveFailed', 1, [2, 3]))!;
  await faults.resolve('kmipServerFault', { keyServerID: 1 });

  t.test('lists the full fault objects, all by default', async (t) => {
    const { faults: listed } = await client.ok('ListClusterFaults');
    t.same(listed, faults.list('all'));
    t.match(listed[1], {
      clusterFaultID: drives.clusterFaultID,
      code: 'driveFailed',
      details: 'Node ID 1 has 2 failed drive(s).',
      driveIDs: [2, 3],
      driveID: 2,
      nodeID: 1,
      resolved: false,
      resolvedDate: '',
      type: 'drive',
    });
    t.match(listed[0], { code: 'kmipServerFault', resolved: true, data: { keyServerID: 1 } });
    t.same(await ids({ faultTypes: 'all' }), [server.clusterFaultID, drives.clusterFaultID]);
    t.same(await ids({ faultTypes: 'current' }), [drives.clusterFaultID]);
    t.same(await ids({ faultTypes: 'resolved' }), [server.clusterFaultID]);
    t.same(await ids({ bestPractices: true }), await ids());
  });

  t.test('unknown members are tolerated and reported back', async (t) => {
    const reply = await client.call('ListClusterFaults', { exceptions: 1, update: true });
    t.equal(reply.result?.faults.length, 2);
    t.same(reply.unusedParameters, { exceptions: 'number', update: 'boolean' });
  });

  t.test('wrong parameters are refused and change nothing', async (t) => {
    const before = JSON.stringify(withoutAudit(store.list('')));
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['ListClusterFaults', { faultTypes: 'open' }, /faultTypes.*"current", "resolved", "all"/],
      ['ListClusterFaults', { faultTypes: 1 }, /faultTypes/],
      ['ListClusterFaults', { bestPractices: 'yes' }, /bestPractices/],
      ['ClearClusterFaults', { faultTypes: 'Current' }, /faultTypes/],
      ['ClearClusterFaults', { faultTypes: null }, /faultTypes/],
    ];
    for (const [method, params, message] of cases) {
      const reply = await client.call(method, params);
      t.equal(reply.status, 200);
      t.equal(reply.error?.code, 500);
      t.equal(reply.error?.name, 'xInvalidParameter', `${method} ${JSON.stringify(params)}`);
      t.match(reply.error?.message, message);
    }
    t.equal(JSON.stringify(withoutAudit(store.list(''))), before);
  });

  t.test(
    'clears resolved faults by default, then current ones; a cause that persists recurs',
    async (t) => {
      t.same(await client.ok('ClearClusterFaults'), {});
      t.same(await ids(), [drives.clusterFaultID]);
      t.same(await client.ok('ClearClusterFaults', { faultTypes: 'current' }), {});
      t.same(await ids(), []);
      const again = (await faults.reportNodeDrives('driveFailed', 1, [2, 3]))!;
      t.ok(again.clusterFaultID > drives.clusterFaultID);
      t.same(await ids({ faultTypes: 'current' }), [again.clusterFaultID]);
      await faults.reportNodeDrives('driveFailed', 1, []);
      t.same(await client.ok('ClearClusterFaults', { faultTypes: 'all' }), {});
      t.same(await ids({ faultTypes: 'all' }), []);
    },
  );
});
