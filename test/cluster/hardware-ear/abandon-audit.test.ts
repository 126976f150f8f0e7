// A start that finds AKs recorded before a Register whose answer was never recorded (the
// process died in between) destroys what the key server holds under their Names, and the
// audit log says so per key: keyID, provider, drive, never the key.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { readAudit } from '../../../src/cluster/audit';
import { listDriveRecords } from '../../../src/cluster/drives/drive-records';
import {
  getKeyRecord,
  keyRecordFor,
  newDriveKey,
  putKeyRecord,
} from '../../../src/cluster/drive-keys/drive-keys';
import { akName, clusterGroup } from '../../../src/cluster/drive-keys/kmip-keys';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { DevKmipServer } from '../../../src/kmip/server';
import { addProvider, eksClient } from '../sear/eks-setup';
import { createCluster, startEarNode } from './ear-node';

t.test('AKs of an interrupted Register: destroyed at the EKS and audited', async (t) => {
  const node = await startEarNode(t, {
    drives: 2,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const pki = await makeDevPki(join(node.dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const kms = await DevKmipServer.start({
    stateDir: join(node.dir, 'eks'),
    host: '127.0.0.1',
    port: 0,
    ca: read(pki.ca),
    cert: read(pki.server.cert),
    key: read(pki.server.key),
  });
  t.teardown(() => kms.close());
  const eks = eksClient(pki, kms.address.port);
  t.teardown(() => eks.close());
  await createCluster(node);
  const { keyProviderID } = await addProvider(node, pki, kms.address.port);
  const uuid = (await node.client.ok('GetClusterInfo')).clusterInfo.uuid as string;

  // What a process killed right after Register leaves: key records without a UID, and
  // the AKs at the key server under their Names.
  const drives = listDriveRecords(node.store);
  const keys = drives.map((d) => newDriveKey(d.driveID, d.serial));
  await node.store.transaction((tx) => {
    for (const k of keys) putKeyRecord(tx, keyRecordFor(k, { keyProviderID, kmipUID: null }));
  });
  const uids: string[] = [];
  for (const k of keys) {
    uids.push(
      await eks.registerSecretData(k.ak, {
        names: [akName(uuid, k)],
        objectGroups: [clusterGroup(uuid)],
      }),
    );
  }
  const secrets = keys.map((k) => Buffer.from(k.ak));
  for (const k of keys) k.ak.fill(0);

  await node.restart();
  await node.settle();

  for (const uid of uids) await t.rejects(eks.get(uid), /Item Not Found/, `${uid} destroyed`);
  for (const k of keys) t.equal(getKeyRecord(node.store, k.keyID)?.state, 'destroyed');
  const events = readAudit(node.store).filter((r) => r.action === 'DestroyAuthenticationKey');
  t.same(
    events.map((r) => r.params.keyID).sort(),
    keys.map((k) => k.keyID).sort(),
    'one event per key',
  );
  for (const r of events) {
    t.match(r, {
      source: 'service',
      outcome: 'ok',
      params: { keyProviderID, kmipUID: null },
      details: /interrupted Enable/,
    });
  }
  const text = JSON.stringify(readAudit(node.store));
  t.notOk(
    secrets.some((s) => text.includes(s.toString('hex')) || text.includes(s.toString('base64'))),
    'no AK byte in the log',
  );
});
