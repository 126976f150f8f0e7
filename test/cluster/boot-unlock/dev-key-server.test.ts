// Boot unlock with AKs at the dev key server over mutual TLS: one batched Get for all the
// drives of the provider; the key server down → kmipServerFault and driveFailed, drives
// stay locked; back → unlocked by the retry rounds, both faults resolved.
import t from 'tap';
import { readFileSync } from 'node:fs';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { KmipClient } from '../../../src/kmip/client';
import { startNodeWithDevEks } from './dev-eks-node';
import { openUnlocker, waitFor } from './unlock-harness';

t.test('boot unlock with the dev key server', async (t) => {
  const { node, pki, port, keyServerID, eks } = await startNodeWithDevEks(t, 3);
  const { client } = node;
  const read = (p: string) => readFileSync(p, 'utf8');
  const drives = (await client.ok('ListDrives')).drives as Record<string, any>[];
  const sim = () => node.sim.status().drives;
  const data = (slot: number) => Buffer.alloc(512, 0x60 + slot);
  for (const d of drives) node.sim.drives[d.slot]!.writeBlock(9, data(d.slot));

  t.test('power cycle → unlocked with one batched Get, data readable', async (t) => {
    node.sim.powerCycle();
    t.ok(sim().every((s) => s.locked));
    const u = openUnlocker(node);
    const result = await u.service.round();
    t.equal(u.kmipBatches(), 1, 'one KMIP message for all the drives of the provider');
    await u.close();
    t.equal(result.unlocked.length, drives.length);
    for (const d of drives) {
      t.notOk(sim()[d.slot]!.locked, `drive ${d.slot} unlocked`);
      t.same(node.sim.drives[d.slot]!.readBlock(9), data(d.slot), `drive ${d.slot} data intact`);
    }
  });

  t.test('key server down → faults, drives locked; back → unlocked, faults resolved', async (t) => {
    await eks.stop();
    node.sim.powerCycle();
    const u = openUnlocker(node);
    t.teardown(() => u.close());
    u.service.start();
    await waitFor(() => u.currentFaults('driveFailed').length === 1);
    const [serverFault] = u.currentFaults('kmipServerFault');
    t.match(serverFault?.details, /Key server dev \(127\.0\.0\.1:\d+\)/, 'names the server');
    t.equal(serverFault?.data?.keyServerID, keyServerID);
    t.same(
      u.currentFaults('driveFailed')[0]!.driveIDs,
      drives.map((d) => d.driveID).sort((a, b) => a - b),
    );
    t.ok(
      sim().every((s) => s.locked),
      'drives stay locked',
    );
    await new Promise((r) => setTimeout(r, 500));
    t.equal(u.currentFaults('kmipServerFault').length, 1, 'retry rounds keep one fault');

    await eks.start();
    await waitFor(() => sim().every((s) => !s.locked));
    await u.service.idle();
    t.same(u.currentFaults('kmipServerFault'), [], 'kmipServerFault resolved');
    t.same(u.currentFaults('driveFailed'), [], 'driveFailed resolved');
    for (const d of drives) t.same(node.sim.drives[d.slot]!.readBlock(9), data(d.slot));
  });

  t.test('a key destroyed at the key server → kmipServerFault, its drive failed', async (t) => {
    const d = drives[0]!;
    const { kmipUID } = node.store.get<DriveKeyRecord>(`keys/${d.keyID}`)!.value;
    // The dev client certificate shares the cluster's CN: the same owner at the server.
    const owner = new KmipClient({
      hostnames: ['127.0.0.1'],
      port,
      ca: read(pki.ca),
      cert: read(pki.client.cert),
      key: read(pki.client.key),
    });
    await owner.revoke(kmipUID!);
    await owner.destroy(kmipUID!);
    owner.close();
    node.sim.powerCycle();
    const u = openUnlocker(node);
    const result = await u.service.round();
    t.match(u.currentFaults('kmipServerFault')[0]?.details, /1 key\(s\) unavailable/);
    t.same(u.currentFaults('driveFailed')[0]?.driveIDs, [d.driveID]);
    t.equal(result.unlocked.length, drives.length - 1, 'the other drives unlocked');
    t.ok(sim()[d.slot]!.locked);
    await u.close();
  });
});
